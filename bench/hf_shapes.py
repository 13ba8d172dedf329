"""The model shapes the transformers peers build (bench/train_hf.py, bench/model_prefill_hf.py):
the same sizes as longctx's presets (src/longctx/model/presets.cpp), as LlamaConfig keyword
arguments."""

SHAPES = {
    "tinyllama-1.1b": dict(hidden_size=2048, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, intermediate_size=5632, vocab_size=32000,
                           rope_theta=10000.0),
    "llama2-7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=32, intermediate_size=11008, vocab_size=32000,
                      rope_theta=10000.0),
    "llama3-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, intermediate_size=14336, vocab_size=128256,
                      rope_theta=500000.0),
}

// Tokenizer file loaders: each reads one format and returns a ready tokenizer, or throws an
// Error naming the file and the component it cannot handle.
//
//   HF tokenizer.json  BPE models only: SentencePiece-style with byte fallback (normalizer
//                      Prepend("▁") + Replace(" ", "▁") and no pre-tokenizer, as Llama-2; or
//                      Replace(" ", "▁") then a Split on " " that can never cut, as Gemma-3) and
//                      byte-level with a Llama-3 / Qwen2 / GPT-2 regex pre-tokenizer. bos/eos
//                      come from tokenizer_config.json beside the file when present.
//   tiktoken ranks     "base64-token rank" lines (Llama-3's original/tokenizer.model), with
//                      Llama-3's pattern and special tokens.
//   SentencePiece      a .model (ModelProto) of a BPE model with identity normalization, read
//                      natively, giving libsentencepiece's ids (sentencepiece_model.h).
#pragma once

#include <filesystem>
#include <memory>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::filesystem::path& path);
std::unique_ptr<Tokenizer> load_tiktoken_ranks(const std::filesystem::path& path);
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::filesystem::path& path);

// True when the file starts like a tiktoken rank file ("<base64> <rank>" lines).
bool looks_like_tiktoken(const std::filesystem::path& path);

}  // namespace longctx

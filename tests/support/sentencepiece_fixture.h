// A tiny SentencePiece BPE model trained with the reference trainer (libsentencepiece), for the
// tokenizer tests that check our .model reader against it. Its own library: libsentencepiece's
// embedded protobuf clashes with libtorch's, so no test binary that links libtorch links this.
//
//   std::filesystem::path model = train_sentencepiece_bpe(dir.path());
#pragma once

#include <filesystem>
#include <string>

namespace longctx::testing {

// Lines of words of 1-4 syllables drawn with a fixed seed; '<', '/', '>' and a few non-ASCII
// characters appear so that they are in the vocabulary.
std::string sentencepiece_training_text();

// Trains a BPE model of 200 pieces on sentencepiece_training_text() into `dir` (files
// train.txt, tiny.model, tiny.vocab); returns the .model path. Normalization is identity (as
// Llama-2's; the default nmt_nfkc rules are not supported by our reader), other flags are the
// trainer's defaults (remove_extra_whitespaces, add_dummy_prefix on, no byte fallback).
// `extra_flags` (e.g. "--bos_id=-1") come first and so override these: the trainer keeps the
// first value of a flag given twice. Throws std::runtime_error, with the trainer's log,
// when training fails.
std::filesystem::path train_sentencepiece_bpe(const std::filesystem::path& dir,
                                              const std::string& extra_flags = "");

}  // namespace longctx::testing

// A fingerprint of what a tokenizer does, so a dataset can say which tokenizer made its ids and
// `train` can refuse a model whose tokenizer differs: a hash of the ids of a fixed probe text,
// the vocabulary size and the BOS/EOS ids. Two files of the same tokenizer (tokenizer.json and
// its SentencePiece .model) agree; tokenizers that split any of the probe differently do not.
//
//   std::string f = tokenizer_fingerprint(*load_tokenizer(dir));   // "9f1c0a..." (16 hex digits)
#pragma once

#include <string>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

std::string tokenizer_fingerprint(const Tokenizer& tokenizer);

}  // namespace longctx

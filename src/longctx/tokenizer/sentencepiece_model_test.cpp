// The native .model reader against libsentencepiece itself (Debian's 0.1.97, linked here as
// the reference only): models trained by its trainer with the options LLaMA-family models use
// and a few more (byte fallback, no dummy prefix, remove_extra_whitespaces on and off,
// user-defined and control symbols), random strings built to hit the corners (runs of spaces,
// "▁" written in the text, unknown characters, special-token text, tabs and newlines), and
// random id sequences for decoding. Models we refuse give errors naming the field.
#include "longctx/tokenizer/sentencepiece_model.h"

#include <gtest/gtest.h>

#include <sentencepiece_processor.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <random>

#include "longctx/base/error.h"
#include "longctx/tokenizer/tokenizer.h"
#include "longctx/tokenizer/utf8.h"
#include "support/fixtures.h"
#include "support/sentencepiece_fixture.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kSource = LONGCTX_SOURCE_DIR;

// The old behaviour of kParse, on libsentencepiece: the text of CONTROL and UNKNOWN pieces is
// cut out first (leftmost-longest), and each piece of text around it encoded on its own.
class Reference {
 public:
  explicit Reference(const fs::path& model) {
    EXPECT_TRUE(sp_.Load(model.string()).ok());
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) specials_.emplace_back(sp_.IdToPiece(id), id);
    }
  }
  const sentencepiece::SentencePieceProcessor& sp() const { return sp_; }

  std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const {
    std::vector<int32_t> out;
    auto encode_part = [&](std::string_view part) {
      if (part.empty()) return;
      std::vector<int> ids;
      EXPECT_TRUE(sp_.Encode(part, &ids).ok());
      out.insert(out.end(), ids.begin(), ids.end());
    };
    if (special == SpecialTokens::kAsText) {
      encode_part(text);
      return out;
    }
    size_t start = 0;
    for (size_t pos = 0; pos < text.size();) {
      const std::pair<std::string, int>* best = nullptr;
      for (const auto& s : specials_) {
        if ((best == nullptr || s.first.size() > best->first.size()) &&
            text.compare(pos, s.first.size(), s.first) == 0) {
          best = &s;
        }
      }
      if (best == nullptr) {
        ++pos;
        continue;
      }
      encode_part(text.substr(start, pos - start));
      out.push_back(best->second);
      pos += best->first.size();
      start = pos;
    }
    encode_part(text.substr(start));
    return out;
  }
  std::string decode(const std::vector<int32_t>& ids) const {
    std::string text;
    EXPECT_TRUE(sp_.Decode(std::vector<int>(ids.begin(), ids.end()), &text).ok());
    return text;
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::pair<std::string, int>> specials_;
};

// Random text from parts chosen to reach every rule, and from the model's own pieces (with
// spaces for "▁") so that long merges happen; now and then long enough for the heap merge.
std::string random_text(std::mt19937& rng, const std::vector<std::string>& extra,
                        const std::vector<std::string>& pieces) {
  static const std::vector<std::string> kParts = {"ka",
                                                  "to",
                                                  "ri",
                                                  "ne",
                                                  "mu",
                                                  "sa",
                                                  "lo",
                                                  "pe",
                                                  "di",
                                                  "th",
                                                  "us",
                                                  "an",
                                                  " ",
                                                  " ",
                                                  " ",
                                                  "  ",
                                                  "   ",
                                                  "\t",
                                                  "\n",
                                                  "\xE2\x96\x81",  // "▁" written in the text
                                                  "\xc3\xa9",
                                                  "\xe4\xb8\xad",
                                                  "<",
                                                  "/",
                                                  ">",
                                                  "b",
                                                  "c",
                                                  "g",
                                                  "y",
                                                  "w",
                                                  "Q",
                                                  "Z",
                                                  "\xF0\x9F\x98\x80",
                                                  "\xD0\xB6",  // unknown to the fixture models
                                                  "<s>",
                                                  "</s>",
                                                  "<unk>",
                                                  "1",
                                                  "42",
                                                  ".",
                                                  "x"};
  std::string text;
  int n = static_cast<int>(rng() % 16 == 0 ? rng() % 200 : rng() % 24);
  for (int i = 0; i < n; ++i) {
    uint32_t pick = rng() % 8;
    if (pick == 0 && !extra.empty()) {
      text += extra[rng() % extra.size()];
    } else if (pick <= 2 && !pieces.empty()) {
      text += pieces[rng() % pieces.size()];
    } else {
      text += kParts[rng() % kParts.size()];
    }
  }
  return text;
}

struct Variant {
  const char* name;
  const char* flags;
  std::vector<std::string> extra;  // symbols the flags add, mixed into the random text
};

class AgainstLibSentencePiece : public ::testing::TestWithParam<Variant> {};

void expect_same_as_libsentencepiece(const fs::path& model, const std::vector<std::string>& extra,
                                     int texts) {
  Reference reference(model);
  const sentencepiece::SentencePieceProcessor& sp = reference.sp();
  std::unique_ptr<Tokenizer> tok = load_tokenizer(model);
  EXPECT_EQ(tok->vocab_size(), static_cast<size_t>(sp.GetPieceSize()));
  EXPECT_EQ(tok->bos_id(), sp.bos_id());
  EXPECT_EQ(tok->eos_id(), sp.eos_id());
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    EXPECT_EQ(tok->token_id(sp.IdToPiece(id)), id);
  }
  std::vector<std::string> pieces;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    if (sp.IsControl(id) || sp.IsUnknown(id) || sp.IsByte(id)) continue;
    std::string piece = sp.IdToPiece(id), spaced;
    for (size_t pos = 0; pos < piece.size();) {
      bool marker = piece.compare(pos, 3, "\xE2\x96\x81") == 0;
      spaced += marker ? ' ' : piece[pos];
      pos += marker ? 3 : 1;
    }
    pieces.push_back(spaced);
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < texts; ++i) {
    std::string text = random_text(rng, extra, pieces);
    SCOPED_TRACE(fmt::format("text {} '{}'", i, text));
    for (SpecialTokens special : {SpecialTokens::kAsText, SpecialTokens::kParse}) {
      std::vector<int32_t> ids = tok->encode(text, special);
      ASSERT_EQ(ids, reference.encode(text, special))
          << (special == SpecialTokens::kParse ? "kParse" : "kAsText");
      ASSERT_EQ(tok->decode(ids), reference.decode(ids));
    }
  }
  // Decoding any ids: control, unknown and byte pieces anywhere, invalid byte sequences.
  for (int i = 0; i < texts; ++i) {
    std::vector<int32_t> ids(rng() % 12);
    for (int32_t& id : ids) id = static_cast<int32_t>(rng() % sp.GetPieceSize());
    ASSERT_EQ(tok->decode(ids), reference.decode(ids))
        << fmt::format("ids {}", fmt::join(ids, " "));
  }
  // Invalid UTF-8 is repaired (maximal subparts) before either sees it.
  std::string invalid = "ka\xF0\x9F\x98 to\xC0\xAF ri\xFF";
  EXPECT_EQ(tok->encode(invalid), reference.encode(repair_utf8(invalid), SpecialTokens::kAsText));
}

TEST_P(AgainstLibSentencePiece, IdsAndDecodeOnRandomText) {
  TempDir dir;
  fs::path model = testing::train_sentencepiece_bpe(dir.path(), GetParam().flags);
  expect_same_as_libsentencepiece(model, GetParam().extra, 20000);
}

INSTANTIATE_TEST_SUITE_P(
    TrainedModels, AgainstLibSentencePiece,
    ::testing::Values(
        Variant{"defaults", "", {}},
        Variant{"llama2_style",
                "--vocab_size=400 --byte_fallback=true --remove_extra_whitespaces=false "
                "--split_digits=true --allow_whitespace_only_pieces=true "
                "--character_coverage=0.98",
                {}},
        Variant{"no_dummy_prefix", "--add_dummy_prefix=false --remove_extra_whitespaces=false", {}},
        Variant{"no_dummy_prefix_extra_ws",
                "--vocab_size=400 --add_dummy_prefix=false --byte_fallback=true",
                {}},
        Variant{"user_defined",
                "--user_defined_symbols=<x>,@@,kat --control_symbols=<ctl>,[C]",
                {"<x>", "@@", "kat", "<ctl>", "[C]", "<x", "@"}},
        Variant{"user_defined_no_extra_ws",
                "--vocab_size=400 --user_defined_symbols=<x>,ri --remove_extra_whitespaces=false "
                "--byte_fallback=true",
                {"<x>", "ri", "<"}},
        Variant{"bos_eos_elsewhere", "--unk_id=2 --bos_id=0 --eos_id=-1 --pad_id=1", {"<pad>"}}),
    [](const ::testing::TestParamInfo<Variant>& param) { return std::string(param.param.name); });

// The checked-in model of the golden tests (Llama-2's trainer flags, 1600 pieces) and, when
// scripts/fetch_tokenizers.sh has built it, Llama-2's own vocabulary as a .model.
TEST(AgainstLibSentencePiece, GoldenModels) {
  expect_same_as_libsentencepiece(kSource / "tests/tokenizer/goldens/tiny_bpe.model", {}, 20000);
  fs::path cache = fs::path(std::getenv("HOME") ? std::getenv("HOME") : "/nonexistent") /
                   ".cache/longctx/tokenizers";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) cache = fs::path(xdg) / "longctx/tokenizers";
  fs::path llama2 = cache / "llama2/tokenizer.model";
  if (!fs::exists(llama2)) GTEST_SKIP() << llama2 << " absent (scripts/fetch_tokenizers.sh)";
  expect_same_as_libsentencepiece(llama2, {}, 20000);
}

std::string error_of(const fs::path& path) {
  try {
    load_tokenizer(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Models we do not read: the error names the file and the field.
TEST(SentencePieceModel, UnsupportedModelsAreErrorsNamingTheField) {
  TempDir dir;
  struct Case {
    const char* flags;
    const char* message;
  };
  for (const Case& c : {
           Case{"--model_type=unigram", "trainer_spec.model_type is UNIGRAM (1)"},
           Case{"--model_type=char", "trainer_spec.model_type is CHAR (4)"},
           Case{"--normalization_rule_name=nmt_nfkc",
                "normalizer_spec.precompiled_charsmap is not empty: the normalizer 'nmt_nfkc'"},
           Case{"--user_defined_symbols=a▁b", "a USER_DEFINED piece holding a space or \"▁\""},
       }) {
    SCOPED_TRACE(c.flags);
    fs::path sub = dir.path() / std::to_string(std::hash<std::string>{}(c.flags));
    fs::path model = testing::train_sentencepiece_bpe(sub, c.flags);
    std::string message = error_of(model);
    EXPECT_EQ(message.rfind(model.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
  }
}

// Hand-written ModelProto bytes: the wire format, defaults, and what is refused.
std::string varint(uint64_t v) {
  std::string out;
  do {
    out += static_cast<char>((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return out;
}
std::string field_varint(int field, int64_t v) {
  return varint(static_cast<uint64_t>(field) << 3) + varint(static_cast<uint64_t>(v));
}
std::string field_bytes(int field, std::string_view bytes) {
  return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(bytes.size()) + std::string(bytes);
}
std::string piece(std::string_view text, float score, int type) {
  std::string score_bytes(4, '\0');
  std::memcpy(score_bytes.data(), &score, 4);
  return field_bytes(
      1, field_bytes(1, text) + varint(2 << 3 | 5) + score_bytes + field_varint(3, type));
}

TEST(SentencePieceModel, ParsesTheWireFormatWithDefaults) {
  std::string bytes = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("a", -1, 1) +
                      piece("b", -1, 1) + piece("ab", -0.5f, 1) +
                      field_bytes(2, field_varint(3, 2) + field_varint(41, -1)) +
                      field_bytes(99, "skipped") + field_varint(100, 7);
  SentencePieceModel model = parse_sentencepiece_model(bytes, "m.model");
  ASSERT_EQ(model.pieces.size(), 5u);
  EXPECT_EQ(model.pieces[4].text, "ab");
  EXPECT_EQ(model.pieces[4].score, -0.5f);
  EXPECT_EQ(model.pieces[1].type, SentencePieceModel::PieceType::kControl);
  EXPECT_EQ(model.model_type, SentencePieceModel::kBpe);
  EXPECT_EQ(model.bos_id, -1);
  EXPECT_TRUE(model.add_dummy_prefix);  // absent: the proto's defaults
  EXPECT_TRUE(model.remove_extra_whitespaces);
  BpeSpec spec = sentencepiece_bpe_spec(model, "m.model");
  EXPECT_EQ(spec.bos_id, 1);  // the CONTROL piece named "<s>"
  EXPECT_EQ(spec.eos_id, -1);
  EXPECT_EQ(spec.merges.size(), 1u);

  auto error = [](const std::string& b) {
    try {
      sentencepiece_bpe_spec(parse_sentencepiece_model(b, "m.model"), "m.model");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string bpe = field_bytes(2, field_varint(3, 2));
  EXPECT_NE(error(piece("<unk>", 0, 2) + piece("x", 0, 5) + bpe).find("pieces[1] 'x' is UNUSED"),
            std::string::npos);
  EXPECT_NE(error(piece("a", 0, 1) + bpe).find("no piece has type UNKNOWN"), std::string::npos);
  EXPECT_NE(error(piece("<unk>", 0, 2) + piece("ab", 0, 1) + piece("a", 0, 1) + bpe)
                .find("pieces[1] 'ab' holds 'b', which is not a NORMAL piece"),
            std::string::npos);
  EXPECT_NE(error(piece("<unk>", 0, 2) + piece("<0x41>", 0, 6) + bpe)
                .find("BYTE piece but trainer_spec.byte_fallback is false"),
            std::string::npos);
  EXPECT_NE(error(piece("<unk>", 0, 2) + bpe + field_bytes(3, field_varint(5, 0)))
                .find("normalizer_spec.escape_whitespaces is false"),
            std::string::npos);
  EXPECT_NE(error(bytes.substr(0, bytes.size() - 5)).find("m.model: neither a SentencePiece model"),
            std::string::npos);
  EXPECT_NE(error("").find("no pieces"), std::string::npos);
}

}  // namespace
}  // namespace longctx

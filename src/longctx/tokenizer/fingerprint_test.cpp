#include "longctx/tokenizer/fingerprint.h"

#include <gtest/gtest.h>

#include <cctype>

#include "support/fixtures.h"
#include "support/sentencepiece_fixture.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

TEST(TokenizerFingerprint, SameTokenizerSameFingerprintOtherTokenizerAnother) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "a");
  fs::create_directories(dir.path() / "b");
  fs::path a = testing::train_sentencepiece_bpe(dir.path() / "a");
  // The same training text and vocabulary, but no BOS: the ids of the probe are the same and
  // the BOS id is not, which a dataset's consumer must notice.
  fs::path b = testing::train_sentencepiece_bpe(dir.path() / "b", "--bos_id=-1");

  std::string fa = tokenizer_fingerprint(*load_tokenizer(a));
  EXPECT_EQ(fa.size(), 16u);
  for (char c : fa) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c))) << fa;
  EXPECT_EQ(tokenizer_fingerprint(*load_tokenizer(a)), fa);  // a second load of the same file
  EXPECT_NE(tokenizer_fingerprint(*load_tokenizer(b)), fa);
}

}  // namespace
}  // namespace longctx

#include "longctx/data/input_issues.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace longctx {
namespace {

constexpr IssueKind kAllKinds[] = {
    IssueKind::kInvalidJson,     IssueKind::kMissingText,     IssueKind::kNonStringText,
    IssueKind::kInvalidUtf8,     IssueKind::kEmptyDocument,   IssueKind::kMissingDomain,
    IssueKind::kNonStringDomain, IssueKind::kTruncatedStream, IssueKind::kCorruptStream,
};

// An issue whose kind and detail are functions of its position, so any mix-up shows.
struct Spec {
  uint32_t file;
  uint64_t line;
  IssueKind kind() const { return kAllKinds[(file * 7 + line) % kIssueKindCount]; }
  std::string detail() const { return fmt::format("f{}:l{}", file, line); }
};

void add(InputIssues& issues, const Spec& s) {
  issues.add(s.kind(), s.file, s.line, s.detail());
}

// Every issue of files [0, files) x lines [1, lines].
std::vector<Spec> grid(uint32_t files, uint64_t lines) {
  std::vector<Spec> specs;
  for (uint32_t f = 0; f < files; ++f) {
    for (uint64_t l = 1; l <= lines; ++l) specs.push_back({f, l});
  }
  return specs;
}

using Row = std::tuple<uint32_t, uint64_t, IssueKind, std::string>;
std::vector<Row> rows(const InputIssues& issues) {
  std::vector<Row> out;
  for (const IssueLocation& l : issues.first_locations()) {
    out.emplace_back(l.file_index, l.line, l.kind, l.detail);
  }
  return out;
}

void expect_same(const InputIssues& a, const InputIssues& b) {
  for (IssueKind kind : kAllKinds) EXPECT_EQ(a.count(kind), b.count(kind)) << issue_key(kind);
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(rows(a), rows(b));
}

TEST(IssueNames, StableNamesAndKeys) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"invalid JSON", "invalid_json"},
      {"missing text field", "missing_text"},
      {"non-string text field", "non_string_text"},
      {"invalid UTF-8", "invalid_utf8"},
      {"empty document", "empty_document"},
      {"missing domain field", "missing_domain"},
      {"non-string domain field", "non_string_domain"},
      {"truncated compressed stream", "truncated_stream"},
      {"corrupt compressed stream", "corrupt_stream"},
  };
  ASSERT_EQ(expected.size(), static_cast<size_t>(kIssueKindCount));
  for (int k = 0; k < kIssueKindCount; ++k) {
    EXPECT_EQ(issue_name(kAllKinds[k]), expected[static_cast<size_t>(k)].first);
    EXPECT_EQ(issue_key(kAllKinds[k]), expected[static_cast<size_t>(k)].second);
  }
}

TEST(InputIssues, EmptyLog) {
  InputIssues issues;
  EXPECT_EQ(issues.total(), 0u);
  for (IssueKind kind : kAllKinds) EXPECT_EQ(issues.count(kind), 0u);
  EXPECT_TRUE(issues.first_locations().empty());
}

TEST(InputIssues, CountsByKind) {
  InputIssues issues;
  // Kind k is added k + 1 times: 1 + 2 + ... + 9 = 45 in all.
  uint64_t line = 1;
  for (int k = 0; k < kIssueKindCount; ++k) {
    for (int i = 0; i <= k; ++i) issues.add(kAllKinds[k], 0, line++);
  }
  for (int k = 0; k < kIssueKindCount; ++k) {
    EXPECT_EQ(issues.count(kAllKinds[k]), static_cast<uint64_t>(k + 1)) << issue_key(kAllKinds[k]);
  }
  EXPECT_EQ(issues.total(), 45u);
}

TEST(InputIssues, KeepsTheEarliestLocationsInFileLineOrder) {
  std::vector<Spec> specs = grid(4, 6);  // 24 issues
  std::mt19937 rng(7);
  std::shuffle(specs.begin(), specs.end(), rng);
  InputIssues issues(/*keep_locations=*/5);
  for (const Spec& s : specs) add(issues, s);
  EXPECT_EQ(issues.total(), 24u);
  // The five earliest of files 0..3 x lines 1..6 are file 0, lines 1..5.
  std::vector<Row> expected;
  for (uint64_t l = 1; l <= 5; ++l) {
    Spec s{0, l};
    expected.emplace_back(0, l, s.kind(), s.detail());
  }
  EXPECT_EQ(rows(issues), expected);
}

TEST(InputIssues, FileOrderComesBeforeLineOrder) {
  InputIssues issues(/*keep_locations=*/3);
  issues.add(IssueKind::kInvalidJson, 2, 1);
  issues.add(IssueKind::kInvalidJson, 1, 900);
  issues.add(IssueKind::kInvalidJson, 0, 1000);
  issues.add(IssueKind::kInvalidJson, 1, 5);
  ASSERT_EQ(issues.first_locations().size(), 3u);
  EXPECT_EQ(issues.first_locations()[0].file_index, 0u);
  EXPECT_EQ(issues.first_locations()[0].line, 1000u);
  EXPECT_EQ(issues.first_locations()[1].file_index, 1u);
  EXPECT_EQ(issues.first_locations()[1].line, 5u);
  EXPECT_EQ(issues.first_locations()[2].file_index, 1u);
  EXPECT_EQ(issues.first_locations()[2].line, 900u);
}

TEST(InputIssues, FewerIssuesThanTheLimitAreAllKept) {
  InputIssues issues(/*keep_locations=*/10);
  add(issues, {3, 2});
  add(issues, {0, 9});
  add(issues, {3, 1});
  Spec a{0, 9}, b{3, 1}, c{3, 2};
  EXPECT_EQ(rows(issues), (std::vector<Row>{{0, 9, a.kind(), a.detail()},
                                            {3, 1, b.kind(), b.detail()},
                                            {3, 2, c.kind(), c.detail()}}));
}

TEST(InputIssues, KeepZeroLocationsStillCounts) {
  InputIssues issues(/*keep_locations=*/0);
  for (const Spec& s : grid(2, 3)) add(issues, s);
  EXPECT_EQ(issues.total(), 6u);
  EXPECT_TRUE(issues.first_locations().empty());
  InputIssues other(/*keep_locations=*/0);
  add(other, {0, 100});
  issues.merge(other);
  EXPECT_EQ(issues.total(), 7u);
  EXPECT_TRUE(issues.first_locations().empty());
}

TEST(InputIssues, MergeEqualsAddingEverythingIntoOneLog) {
  std::vector<Spec> all = grid(5, 8);  // 40 distinct locations
  for (size_t keep : {0, 1, 3, 5, 39, 40, 100}) {
    InputIssues reference(keep);
    for (const Spec& s : all) add(reference, s);
    for (unsigned seed = 0; seed < 20; ++seed) {
      std::mt19937 rng(seed);
      std::vector<Spec> shuffled = all;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      // Split at a seed-dependent point (one side may be empty).
      size_t cut = seed % (all.size() + 1);
      InputIssues left(keep), right(keep);
      for (size_t i = 0; i < shuffled.size(); ++i) add(i < cut ? left : right, shuffled[i]);
      InputIssues left_then_right = left;
      left_then_right.merge(right);
      InputIssues right_then_left = right;
      right_then_left.merge(left);
      SCOPED_TRACE(::testing::Message() << "keep " << keep << " seed " << seed);
      expect_same(left_then_right, reference);
      expect_same(right_then_left, reference);
    }
  }
}

TEST(InputIssues, MergeOfManyPerThreadLogsInAnyOrder) {
  std::vector<Spec> all = grid(3, 20);
  InputIssues reference(5);
  for (const Spec& s : all) add(reference, s);
  // Deal the issues round-robin to 4 "threads", then merge the logs in every order.
  std::vector<InputIssues> parts(4, InputIssues(5));
  for (size_t i = 0; i < all.size(); ++i) add(parts[i % 4], all[i]);
  std::vector<int> order = {0, 1, 2, 3};
  do {
    InputIssues merged(5);
    for (int p : order) merged.merge(parts[static_cast<size_t>(p)]);
    expect_same(merged, reference);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(InputIssues, SameLineIssuesDoNotDependOnArrivalOrder) {
  // Two issues at one (file, line): which one is kept must not depend on which thread or
  // which add() came first.
  for (size_t keep : {1, 2}) {
    InputIssues forward(keep), backward(keep), a(keep), b(keep);
    forward.add(IssueKind::kMissingText, 3, 9, "second");
    forward.add(IssueKind::kInvalidJson, 3, 9, "first");
    backward.add(IssueKind::kInvalidJson, 3, 9, "first");
    backward.add(IssueKind::kMissingText, 3, 9, "second");
    a.add(IssueKind::kMissingText, 3, 9, "second");
    b.add(IssueKind::kInvalidJson, 3, 9, "first");
    InputIssues a_then_b = a, b_then_a = b;
    a_then_b.merge(b);
    b_then_a.merge(a);
    SCOPED_TRACE(::testing::Message() << "keep " << keep);
    expect_same(forward, backward);
    expect_same(a_then_b, forward);
    expect_same(b_then_a, forward);
  }
}

TEST(InputIssues, MergeKeepsTheReceiversLimit) {
  InputIssues small(2), large(10);
  for (const Spec& s : grid(1, 6)) add(large, s);
  small.merge(large);
  EXPECT_EQ(small.total(), 6u);
  ASSERT_EQ(small.first_locations().size(), 2u);
  EXPECT_EQ(small.first_locations()[0].line, 1u);
  EXPECT_EQ(small.first_locations()[1].line, 2u);
}

}  // namespace
}  // namespace longctx

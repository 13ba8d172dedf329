#include "longctx/report/figure2.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace longctx {
namespace {

bool entity_at(const std::string& text, size_t i) {
  for (std::string_view e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
    if (text.compare(i, e.size(), e) == 0) return true;
  }
  return false;
}

// "" when `svg` is well-formed XML with one <svg> root: tags balanced and properly nested,
// attribute quotes paired, '&' only as an entity, no text outside the root; else the problem.
std::string xml_problem(const std::string& svg) {
  std::vector<std::string> open;
  int roots = 0;
  for (size_t i = 0; i < svg.size(); ++i) {
    if (svg[i] == '&' && !entity_at(svg, i)) return fmt::format("bare '&' at {}", i);
  }
  for (size_t i = 0; i < svg.size();) {
    if (svg[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(svg[i]))) {
        return fmt::format("text outside the root at {}", i);
      }
      ++i;
      continue;
    }
    size_t end = svg.find('>', i);
    if (end == std::string::npos) return fmt::format("unclosed tag at {}", i);
    std::string tag = svg.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return fmt::format("'<' inside a tag at {}", i);
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return fmt::format("odd quotes at {}", i);
    if (tag.starts_with("/")) {
      std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return fmt::format("unexpected </{}> at {}", name, i);
      open.pop_back();
    } else {
      std::string name = tag.substr(0, tag.find_first_of(" /"));
      if (open.empty()) {
        ++roots;
        if (name != "svg") return "the root is <" + name + ">";
      }
      if (!tag.ends_with("/")) open.push_back(name);
    }
    i = end + 1;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (roots != 1) return fmt::format("{} roots", roots);
  return "";
}

const char* const kBucketLabels[] = {"0-1K",   "1-2K",   "2-4K",    "4-8K", "8-16K",
                                     "16-32K", "32-64K", "64-128K", "128K+"};
bool is_bucket_label(const std::string& name) {
  return std::find(std::begin(kBucketLabels), std::end(kBucketLabels), name) !=
         std::end(kBucketLabels);
}

struct Bar {
  double x, y, width, height;
  std::string fill, series, name, percent;
};

// Every titled <rect> of the figure: the bars. Titles read "<series> <name>: <share>%".
std::vector<Bar> bars_of(const std::string& svg) {
  static const std::regex kBar(
      R"re(<rect x="([-0-9.]+)" y="([-0-9.]+)" width="([-0-9.]+)" height="([-0-9.]+)" fill="([^"]*)"><title>([^ <]*) ([^<]*): ([-0-9.]+)%</title></rect>)re");
  std::vector<Bar> bars;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kBar); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    bars.push_back({std::stod(m[1]), std::stod(m[2]), std::stod(m[3]), std::stod(m[4]), m[5], m[6],
                    m[7], m[8]});
  }
  return bars;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A profile whose shares are simple fractions of 157100 tokens.
CorpusProfile test_profile() {
  CorpusProfile profile(4096);
  profile.add("RedPajamaCommonCrawl", 500);  // bucket 0
  profile.add("RedPajamaCommonCrawl", 600);  // bucket 0
  profile.add("RedPajamaC4", 2000);          // bucket 1
  profile.add("RedPajamaBook", 150000);      // bucket 8
  profile.add("My domain & <co>", 4000);     // bucket 2; a name that needs escaping
  return profile;
}
constexpr double kTotal = 157100.0;

TEST(SeriesFromProfile, DomainSharesInReportOrderAndBucketShares) {
  MixtureSeries s = series_from_profile("corpus", test_profile());
  EXPECT_EQ(s.label, "corpus");
  std::vector<std::pair<std::string, double>> want = {{"RedPajamaCommonCrawl", 1100 / kTotal},
                                                      {"RedPajamaC4", 2000 / kTotal},
                                                      {"RedPajamaBook", 150000 / kTotal},
                                                      {"My domain & <co>", 4000 / kTotal}};
  EXPECT_EQ(s.domain_shares, want);
  std::array<double, kLengthBucketCount> buckets{
      1100 / kTotal, 2000 / kTotal, 4000 / kTotal, 0, 0, 0, 0, 0, 150000 / kTotal};
  EXPECT_EQ(s.bucket_shares, buckets);
}

TEST(SeriesFromProfile, EmptyProfileHasZeroShares) {
  MixtureSeries s = series_from_profile("empty", CorpusProfile());
  EXPECT_TRUE(s.domain_shares.empty());
  for (double share : s.bucket_shares) EXPECT_EQ(share, 0.0);
}

class Figure2 : public ::testing::Test {
 protected:
  void SetUp() override {
    series_.push_back(series_from_profile("corpus", test_profile()));
    MixtureSeries upsampled;
    upsampled.label = "upsampled";
    upsampled.domain_shares = {{"RedPajamaCommonCrawl", 0.4},
                               {"RedPajamaArXiv", 0.1},
                               {"RedPajamaBook", 0.3},
                               {"RedPajamaC4", 0.2}};
    upsampled.bucket_shares = {0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.25};
    series_.push_back(upsampled);
    svg_ = draw_figure2(series_, "Length & domain <mix>");
  }
  std::vector<MixtureSeries> series_;
  std::string svg_;
};

TEST_F(Figure2, IsWellFormedWithOneSvgRoot) {
  EXPECT_EQ(xml_problem(svg_), "");
  EXPECT_TRUE(svg_.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")) << svg_.substr(0, 80);
  EXPECT_TRUE(svg_.ends_with("</svg>\n"));
}

TEST_F(Figure2, TitleAndNamesAreEscaped) {
  EXPECT_TRUE(contains(svg_, ">Length &amp; domain &lt;mix&gt;</text>"));
  EXPECT_FALSE(contains(svg_, "<mix>"));
  EXPECT_TRUE(contains(svg_, ">My domain &amp; &lt;co&gt;</text>"));
}

TEST_F(Figure2, ShowsEachDomainsShortNameAndEachBucketLabel) {
  for (const char* name : {"CC", "C4", "Book", "ArXiv"}) {
    EXPECT_TRUE(contains(svg_, fmt::format(">{}</text>", name))) << name;
  }
  EXPECT_FALSE(contains(svg_, ">RedPajamaCommonCrawl</text>"));  // labels use the short name
  for (const char* label : kBucketLabels) {
    EXPECT_TRUE(contains(svg_, fmt::format(">{}</text>", label))) << label;
  }
  EXPECT_TRUE(contains(svg_, ">corpus</text>"));
  EXPECT_TRUE(contains(svg_, ">upsampled</text>"));
}

TEST_F(Figure2, DomainBarWidthsAreProportionalToShares) {
  // Both series get a bar for every domain of the union (0 where a series lacks it).
  std::map<std::pair<std::string, std::string>, double> want = {
      {{"corpus", "RedPajamaCommonCrawl"}, 1100 / kTotal},
      {{"corpus", "RedPajamaC4"}, 2000 / kTotal},
      {{"corpus", "RedPajamaBook"}, 150000 / kTotal},
      {{"corpus", "RedPajamaArXiv"}, 0.0},
      {{"corpus", "My domain &amp; &lt;co&gt;"}, 4000 / kTotal},
      {{"upsampled", "RedPajamaCommonCrawl"}, 0.4},
      {{"upsampled", "RedPajamaC4"}, 0.2},
      {{"upsampled", "RedPajamaBook"}, 0.3},
      {{"upsampled", "RedPajamaArXiv"}, 0.1},
      {{"upsampled", "My domain &amp; &lt;co&gt;"}, 0.0},
  };
  std::map<std::pair<std::string, std::string>, Bar> found;
  for (const Bar& bar : bars_of(svg_)) {
    if (is_bucket_label(bar.name)) continue;
    EXPECT_TRUE(found.emplace(std::pair{bar.series, bar.name}, bar).second) << bar.name;
  }
  ASSERT_EQ(found.size(), want.size());
  // Scale from the widest bar: corpus Book, 150000 / 157100 of the tokens.
  const Bar& widest = found.at({"corpus", "RedPajamaBook"});
  double pixels_per_share = widest.width / (150000 / kTotal);
  EXPECT_GT(pixels_per_share, 0.0);
  double left = widest.x;
  for (const auto& [key, share] : want) {
    SCOPED_TRACE(key.first + " " + key.second);
    auto it = found.find(key);
    ASSERT_NE(it, found.end());
    const Bar& bar = it->second;
    EXPECT_EQ(bar.percent, fmt::format("{:.2f}", share * 100));
    EXPECT_NEAR(bar.width, pixels_per_share * share, 0.01);  // widths are printed to 0.01
    EXPECT_EQ(bar.x, left);  // every domain bar starts at the panel's left edge
  }
  // Series keep their colour in every group.
  EXPECT_NE(found.at({"corpus", "RedPajamaC4"}).fill, found.at({"upsampled", "RedPajamaC4"}).fill);
  EXPECT_EQ(found.at({"corpus", "RedPajamaC4"}).fill, found.at({"corpus", "RedPajamaBook"}).fill);
}

TEST_F(Figure2, BucketBarHeightsAreProportionalToShares) {
  const char* const* labels = kBucketLabels;
  std::map<std::pair<std::string, std::string>, Bar> found;
  for (const Bar& bar : bars_of(svg_)) {
    if (is_bucket_label(bar.name)) {
      EXPECT_TRUE(found.emplace(std::pair{bar.series, bar.name}, bar).second) << bar.name;
    }
  }
  ASSERT_EQ(found.size(), 2u * kLengthBucketCount);
  const Bar& tallest = found.at({"corpus", "128K+"});
  double pixels_per_share = tallest.height / (150000 / kTotal);
  EXPECT_GT(pixels_per_share, 0.0);
  double base = tallest.y + tallest.height;
  for (size_t s = 0; s < series_.size(); ++s) {
    for (int b = 0; b < kLengthBucketCount; ++b) {
      double share = series_[s].bucket_shares[static_cast<size_t>(b)];
      const Bar& bar = found.at({series_[s].label, labels[b]});
      SCOPED_TRACE(series_[s].label + " " + labels[b]);
      EXPECT_EQ(bar.percent, fmt::format("{:.2f}", share * 100));
      EXPECT_NEAR(bar.height, pixels_per_share * share, 0.01);
      EXPECT_NEAR(bar.y + bar.height, base, 0.01);  // bars stand on one baseline
    }
  }
  // Buckets left to right, and the two series side by side within a bucket.
  for (int b = 0; b + 1 < kLengthBucketCount; ++b) {
    EXPECT_LT(found.at({"corpus", labels[b]}).x, found.at({"upsampled", labels[b]}).x);
    EXPECT_LT(found.at({"upsampled", labels[b]}).x, found.at({"corpus", labels[b + 1]}).x);
  }
}

TEST(Figure2Edge, NoSeriesAndSharesOfZeroStillDrawAWellFormedFigure) {
  std::string empty = draw_figure2({}, "nothing");
  EXPECT_EQ(xml_problem(empty), "");
  EXPECT_TRUE(bars_of(empty).empty());
  EXPECT_TRUE(contains(empty, ">128K+</text>"));

  std::string zero = draw_figure2({series_from_profile("zero", CorpusProfile())}, "zero");
  EXPECT_EQ(xml_problem(zero), "");
  for (const Bar& bar : bars_of(zero)) {
    EXPECT_EQ(bar.height, 0.0) << bar.name;
    EXPECT_EQ(bar.percent, "0.00");
  }
}

TEST(Figure2Edge, ManyDomainsGrowTheFigure) {
  CorpusProfile profile;
  for (int d = 0; d < 40; ++d)
    profile.add(fmt::format("domain{:02}", d), 100 + static_cast<uint64_t>(d));
  std::string svg = draw_figure2({series_from_profile("many", profile)}, "many");
  EXPECT_EQ(xml_problem(svg), "");
  for (int d = 0; d < 40; ++d) EXPECT_TRUE(contains(svg, fmt::format(">domain{:02}</text>", d)));
  // Every domain bar lies inside the document.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex(R"re(height="([0-9.]+)" viewBox)re")));
  double height = std::stod(m[1]);
  for (const Bar& bar : bars_of(svg)) EXPECT_LE(bar.y + bar.height, height) << bar.name;
}

TEST(XmlProblem, CatchesBrokenDocuments) {
  // The checker itself must be able to fail.
  EXPECT_EQ(xml_problem("<svg><a/><b></b></svg>\n"), "");
  EXPECT_NE(xml_problem("<svg><a></svg>"), "");
  EXPECT_NE(xml_problem("<svg></svg><svg></svg>"), "");
  EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
  EXPECT_NE(xml_problem("<svg><text a=\"x>y</text></svg>"), "");
  EXPECT_NE(xml_problem("<html></html>"), "");
  EXPECT_NE(xml_problem("<svg></svg>trailing"), "");
}

}  // namespace
}  // namespace longctx

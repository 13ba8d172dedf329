#include "longctx/base/progress.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace longctx {
namespace {

// Every expected line below is worked out by hand from the format
// "<label> [<bar>] <done> / <total>  <rate>/s  ETA <eta>" with bar cells = round(fraction * width).

TEST(ProgressRender, EmptyBarAndUnknownEtaAtStart) {
  EXPECT_EQ(Progress::render("stats", 0, 100, 0.0, 10),
            "stats [          ] 0 B / 100 B  0 B/s  ETA --:--");
}

TEST(ProgressRender, HalfwayBarRateAndEta) {
  // 50 of 100 bytes in 10 s: 5 B/s, 50 bytes left -> 10 s.
  EXPECT_EQ(Progress::render("x", 50, 100, 10.0, 10),
            "x [#####     ] 50 B / 100 B  5 B/s  ETA 0:10");
}

TEST(ProgressRender, FullBarWhenDone) {
  EXPECT_EQ(Progress::render("x", 100, 100, 4.0, 10),
            "x [##########] 100 B / 100 B  25 B/s  ETA 0:00");
}

TEST(ProgressRender, BarCellsRoundToNearest) {
  // 1/4 of 10 cells = 2.5 -> 3; 1/3 of 10 = 3.33 -> 3; 2/3 of 10 = 6.67 -> 7; 1/21 of 10 = 0.48 ->
  // 0.
  EXPECT_EQ(Progress::render("r", 1, 4, 0.0, 10), "r [###       ] 1 B / 4 B  0 B/s  ETA --:--");
  EXPECT_EQ(Progress::render("r", 1, 3, 0.0, 10), "r [###       ] 1 B / 3 B  0 B/s  ETA --:--");
  EXPECT_EQ(Progress::render("r", 2, 3, 0.0, 10), "r [#######   ] 2 B / 3 B  0 B/s  ETA --:--");
  EXPECT_EQ(Progress::render("r", 1, 21, 0.0, 10), "r [          ] 1 B / 21 B  0 B/s  ETA --:--");
}

TEST(ProgressRender, ZeroTotalDrawsAFullBarWithoutDividingByZero) {
  EXPECT_EQ(Progress::render("z", 0, 0, 1.0, 4), "z [####] 0 B / 0 B  0 B/s  ETA --:--");
  EXPECT_EQ(Progress::render("z", 0, 0, 0.0, 4), "z [####] 0 B / 0 B  0 B/s  ETA --:--");
}

TEST(ProgressRender, MoreDoneThanTotalClampsTheBarAndHidesTheEta) {
  // A compressed file can decode to more than its size on disk suggests; the bar never overflows.
  EXPECT_EQ(Progress::render("o", 300, 100, 3.0, 5), "o [#####] 300 B / 100 B  100 B/s  ETA --:--");
}

TEST(ProgressRender, ByteUnitsAndEta) {
  // 1.5 MiB of 3 MiB in 2 s: 768 KiB/s, 1.5 MiB left -> 2 s.
  EXPECT_EQ(Progress::render("stats", 1572864, 3145728, 2.0, 10),
            "stats [#####     ] 1.5 MiB / 3.0 MiB  768.0 KiB/s  ETA 0:02");
}

TEST(ProgressRender, EtaInHours) {
  // 1 byte per second with 7384 bytes left: 2 h 3 min 4 s.
  EXPECT_EQ(Progress::render("h", 1, 7385, 1.0, 0), "h [] 1 B / 7.2 KiB  1 B/s  ETA 2:03:04");
}

TEST(ProgressRender, WidthIsTheNumberOfBarCells) {
  for (int width : {0, 1, 7, 30, 64}) {
    std::string line = Progress::render("w", 1, 2, 0.0, width);
    size_t open = line.find('['), close = line.find(']');
    ASSERT_NE(open, std::string::npos);
    ASSERT_NE(close, std::string::npos);
    EXPECT_EQ(close - open - 1, static_cast<size_t>(width)) << line;
  }
}

TEST(Progress, CountsBytesFromManyThreadsWithoutDrawing) {
  Progress progress("count", 1000, Progress::Display::kOff);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&progress, t] {
      for (int i = 0; i < 1000; ++i) progress.add(static_cast<uint64_t>(t + 1));
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(progress.done_bytes(), 1000u * (1 + 2 + 3 + 4));
  progress.finish();
  progress.finish();  // idempotent; the destructor calls it again
  EXPECT_EQ(progress.done_bytes(), 10000u);
}

TEST(Progress, FinishDrawsTheFinalLineWhenEnabled) {
  // Nothing is done, so the rate is 0 and the line does not depend on the elapsed time.
  ::testing::internal::CaptureStderr();
  {
    Progress progress("draw", 100, Progress::Display::kOn);
    progress.finish();
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  std::string final_line =
      "\rdraw [                              ] 0 B / 100 B  0 B/s  ETA --:--\033[K\n";
  ASSERT_GE(err.size(), final_line.size()) << err;
  EXPECT_EQ(err.substr(err.size() - final_line.size()), final_line);
}

TEST(Progress, DrawsNothingWhenOff) {
  ::testing::internal::CaptureStderr();
  {
    Progress progress("quiet", 100, Progress::Display::kOff);
    progress.add(50);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace longctx

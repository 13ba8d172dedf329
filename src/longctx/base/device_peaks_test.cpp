// The peak table against device names as CUDA (cudaDeviceProp::name, torch.cuda.get_device_name)
// reports them on real machines; expected values are NVIDIA's dense bf16 datasheet figures.
#include "longctx/base/device_peaks.h"

#include <gtest/gtest.h>

namespace longctx {
namespace {

TEST(DevicePeaks, KnownDevicesByTheirReportedNames) {
  struct Case {
    const char* name;
    double tflops;
  };
  for (const Case& c :
       {Case{"NVIDIA H100 80GB HBM3", 989}, Case{"NVIDIA H100 PCIe", 756},
        Case{"NVIDIA H100 NVL", 835}, Case{"NVIDIA H200", 989}, Case{"NVIDIA H200 NVL", 835},
        Case{"NVIDIA A100-SXM4-80GB", 312}, Case{"NVIDIA A100-SXM4-40GB", 312},
        Case{"NVIDIA A100-PCIE-40GB", 312}, Case{"NVIDIA A100 80GB PCIe", 312},
        Case{"NVIDIA L40S", 362}, Case{"NVIDIA L4", 121}, Case{"NVIDIA A10", 125},
        Case{"NVIDIA GeForce RTX 4090", 165}}) {
    std::optional<double> peak = dense_bf16_peak_tflops(c.name);
    ASSERT_TRUE(peak.has_value()) << c.name;
    EXPECT_EQ(*peak, c.tflops) << c.name;
  }
}

TEST(DevicePeaks, LookAlikesAndSlicesAreUnknown) {
  // Names that contain a known chip's letters but are other chips (A10G, L40, H800), a MIG
  // slice (a fraction of the SMs), other vendors and the empty name.
  for (const char* name :
       {"NVIDIA A10G", "NVIDIA L40", "NVIDIA H800", "NVIDIA H100 80GB HBM3 MIG 1g.10gb",
        "NVIDIA A100-SXM4-40GB MIG 3g.20gb", "NVIDIA GeForce RTX 4090 D", "Tesla V100-SXM2-16GB",
        "NVIDIA GeForce RTX 4080", "AMD Instinct MI300X", "cpu", ""}) {
    EXPECT_FALSE(dense_bf16_peak_tflops(name).has_value()) << name;
  }
}

TEST(DevicePeaks, CaseAndSpacingDoNotMatter) {
  EXPECT_EQ(dense_bf16_peak_tflops("nvidia h100 pcie"), 756);
  EXPECT_EQ(dense_bf16_peak_tflops("  NVIDIA  H200  "), 989);
}

}  // namespace
}  // namespace longctx

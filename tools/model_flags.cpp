#include "model_flags.h"

#include "longctx/base/error.h"
#include "longctx/runtime/device.h"

namespace longctx {

void ModelFlags::add_to(CLI::App& command) {
  command.add_option("--model", model, "Hugging Face model directory (config.json + safetensors)")
      ->required();
  command.add_option("--device", device, "auto (CUDA when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  command
      .add_option("--dtype", dtype,
                  "Compute dtype: auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, "
                  "float16")
      ->capture_default_str();
  command.add_option("--rope-frozen-length", rope_frozen_length,
                     "Dynamic-NTK models: freeze the NTK base at this many tokens, as the paper's "
                     "evaluation does (81920 for its checkpoints)");
}

torch::Device ModelFlags::torch_device() const {
  return parse_device(device);
}

LoadOptions ModelFlags::load_options() const {
  LoadOptions options;
  options.device = torch_device();
  if (dtype != "auto") options.dtype = parse_torch_dtype(dtype);
  if (rope_frozen_length > 0) options.rope_frozen_length_tokens = rope_frozen_length;
  return options;
}

}  // namespace longctx

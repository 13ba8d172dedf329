# Sourced on a GPU machine without a package registry (scripts/gpu/build_gpu.sh sources it):
# unpacks the Debian packages of .gpu-debs/ (scripts/gpu/fetch_debs.sh made them) into
# $LONGCTX_DEPS (default /tmp/longctx-deps), makes their pkg-config files point there, points
# each -dev package's libNAME.so at a library of that soname (the carried one, else the
# machine's), and exports what CMake and the dynamic loader need:
#   CMAKE_PREFIX_PATH (PyTorch's libtorch, then the prefix), PKG_CONFIG_PATH, LD_LIBRARY_PATH.
# Idempotent; does nothing without .gpu-debs/ (a machine with the packages installed).
#
#   source scripts/gpu/deps.sh && cmake -S . -B build-gpu -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH"
gpu_deps() {
  local debs=${GPU_DEBS:-.gpu-debs} prefix=${LONGCTX_DEPS:-/tmp/longctx-deps}
  local torch_prefix lib
  torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') || return 1
  export CMAKE_PREFIX_PATH="$torch_prefix"
  if ! ls "$debs"/*.deb > /dev/null 2>&1; then
    echo "deps: no $debs/*.deb; using the machine's own packages"
    return 0
  fi
  mkdir -p "$prefix"
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$prefix" || return 1; done
  lib="$prefix/usr/lib/x86_64-linux-gnu"
  # pkg-config files say prefix=/usr: make them say where they are now.
  find "$prefix" -name '*.pc' -exec sed -i "s#^prefix=/usr\$#prefix=$prefix/usr#" {} +
  # A -dev package's libNAME.so links to a runtime package's libNAME.so.N: where that was not
  # carried, link to the machine's library of the same soname.
  local link target soname found
  for link in "$lib"/*.so; do
    [ -L "$link" ] && [ ! -e "$link" ] || continue
    target=$(readlink "$link")
    soname=$(basename "$target" | sed -E 's/^(lib[^.]+\.so\.[0-9]+).*/\1/')
    found=$(ldconfig -p | awk -v s="$soname" '$1 == s {print $NF; exit}')
    if [ -n "$found" ]; then
      ln -sf "$found" "$link"
    else
      echo "deps: $(basename "$link") needs $soname, which neither .gpu-debs nor the machine has"
    fi
  done
  export CMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr"
  export PKG_CONFIG_PATH="$lib/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "deps: $(ls "$debs"/*.deb | wc -l) packages unpacked into $prefix"
}

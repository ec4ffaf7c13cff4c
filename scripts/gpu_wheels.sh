#!/usr/bin/env bash
# Here, before a GPU check: fetch the wheels of the packages this project needs that the lent GPU
# machine's image lacks (its Python is 3.12 and already holds numpy, scipy, sympy, pandas, pyarrow,
# matplotlib, torch, cupy, scikit-learn, typer, rich, tqdm, pyyaml, pytest, hypothesis), into
# .whl/ (ignored by git), with a copy of Fashion-MNIST's idx files in .whl/data/. Then run
# scripts/gpu_check.sh there with .whl carried (docs/gpu.md). numba is left out (llvmlite alone is
# about 40 MB, over the carry limit): there the Newton fit runs its array kernel (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
# versions: pydantic's own pins (pydantic-core) and .ci/constraints.txt
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2 \
  array-api-compat==1.16.0 array-api-strict==2.6.1 mnist1d==0.0.2.post1
# Fashion-MNIST for the CNN epoch of the empirical benchmark (the GPU image has no Debian dataset)
if [ -d /usr/share/datasets/fashion-mnist ]; then
  mkdir -p .whl/data && cp -r /usr/share/datasets/fashion-mnist .whl/data/
else
  echo "no /usr/share/datasets/fashion-mnist here (bash .ci/setup installs it): the CNN epoch will fail there" >&2
fi
ls -R .whl
du -sh .whl   # with the repository this must stay under the device tool's 64 MiB

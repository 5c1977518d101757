# optimlab: two entry points.
#   make book   set up everything, then build the static site into _build/html (any warning fails)
#   make pdf    the book as one PDF, printed by Chromium from the built site: _build/pdf/optimlab.pdf
#               (also copied into the site, where every page's "下载 PDF" button points)
#   make test   same setup (+ chromium, poppler-utils), build the site and the PDF if missing or stale, run every test
#   make check  the library and oracle tests only (the quick loop while developing)
#
# Each target installs what it needs on its own: the Python virtual environment from the pinned
# requirements.txt, the CJK fonts and Chromium from Debian (only when missing, only as root) and the
# site's front-end assets from the npm registry at the versions pinned in package-lock.json.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HTML   := _build/html

# Thebe's published package declares JupyterLab build dependencies that the bundle in its lib/
# does not need, so it is fetched on its own with `npm pack`, pinned by version and integrity.
THEBE_VERSION   := 0.9.3
THEBE_INTEGRITY := sha512-Rb/7kVhtlffXra3kIe7OuIGE7awsm2/fGWxw21DiNfnWLnUQiDl9AWqYdshPwZPG/5DzLpsJRPix2xtCPtJmQQ==

IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)
APT_UPDATED := $(VENV)/.apt-updated

BOOK_SOURCES := $(shell find book optimlab -type f \( -name '*.md' -o -name '*.ipynb' -o -name '*.py' \
                  -o -name '*.bib' -o -name '*.txt' -o -name '*.css' -o -name '*.js' -o -name '*.mjs' -o -name '*.png' \
                  -o -name '*.svg' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: book test setup python fonts chromium poppler assets clean pdf

setup: python fonts assets

# ---------------------------------------------------------------- Python
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --no-compile -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (optimlab)"
	touch $@

python: $(VENV)/.installed

# ---------------------------------------------------------------- system packages (Debian)
define apt_install
	@if [ "$(IS_ROOT)" = yes ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
	else \
	  echo "缺少系统软件包：$(1)。请以 root 运行，或手动 sudo apt-get install $(1)" >&2; exit 1; \
	fi
endef

fonts: python
	@if ! fc-list 2>/dev/null | grep "Noto Sans CJK" >/dev/null; then \
	  echo "安装中文字体 fonts-noto-cjk ..."; \
	  $(MAKE) --no-print-directory _apt PKGS="fonts-noto-cjk fontconfig"; \
	  rm -f "$$($(BIN)/python -c 'import matplotlib; print(matplotlib.get_cachedir())')"/fontlist-*.json; \
	fi

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "安装 chromium ..."; \
	  $(MAKE) --no-print-directory _apt PKGS="chromium"; \
	fi

# pdffonts / pdftotext, with which tests/test_pdf.py reads the PDF
poppler:
	@if ! command -v pdffonts >/dev/null; then \
	  echo "安装 poppler-utils ..."; \
	  $(MAKE) --no-print-directory _apt PKGS="poppler-utils"; \
	fi

.PHONY: _apt
_apt:
	$(call apt_install,$(PKGS))

# ---------------------------------------------------------------- npm assets
node_modules/.installed: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  echo "安装 nodejs / npm ..."; \
	  $(MAKE) --no-print-directory _apt PKGS="nodejs npm"; \
	fi
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf node_modules/thebe && mkdir -p node_modules/thebe .cache
	cd .cache && rm -f thebe-$(THEBE_VERSION).tgz && npm pack thebe@$(THEBE_VERSION) --loglevel=error >/dev/null
	python3 -c 'import base64, hashlib, sys; d = base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(); \
	  sys.exit(0 if "sha512-" + d == sys.argv[2] else "thebe tarball integrity mismatch: sha512-" + d)' \
	  .cache/thebe-$(THEBE_VERSION).tgz '$(THEBE_INTEGRITY)'

	tar -xzf .cache/thebe-$(THEBE_VERSION).tgz -C node_modules/thebe --strip-components=1
	touch $@

assets: node_modules/.installed

# ---------------------------------------------------------------- the book
# Notebooks are stored executed (execute_notebooks: off); the nbval tests prove the stored outputs
# equal a fresh run. Every build starts clean (and --all re-reads every page), so no warning can
# hide in a cached page and no page of a removed chapter survives.
book: setup
	rm -rf $(HTML) _build/.doctrees
	$(BIN)/jupyter-book build . -W -n --keep-going --all
	touch $(HTML)/.built

$(HTML)/.built: $(BOOK_SOURCES) _config.yml _toc.yml package-lock.json | setup
	$(MAKE) --no-print-directory book

# ---------------------------------------------------------------- the PDF
# Chromium prints the built site (no second Sphinx build, no TeX): tools/make_pdf.py takes each page's
# article in _toc.yml's order, adds a cover and a table of contents, and prints A4 with page numbers and
# bookmarks; book/_static/optimlab-print.css is its style sheet, tools/pdf_fonts.py makes the Noto CJK
# fonts embeddable. A rebuilt site (make book starts from an empty _build/html) loses the copy, so the copy
# is its own target.
PDF          := _build/pdf/optimlab.pdf
PDF_IN_SITE  := $(HTML)/_downloads/optimlab.pdf

$(PDF): $(HTML)/.built tools/make_pdf.py tools/pdf_fonts.py book/_static/optimlab-print.css | setup chromium
	$(BIN)/python tools/make_pdf.py --html $(HTML) --out $@

$(PDF_IN_SITE): $(PDF)
	mkdir -p $(@D)
	cp $< $@

pdf: $(PDF_IN_SITE)

# ---------------------------------------------------------------- the tests
# Two pytest runs.
#  1. unit/oracle tests, binder and browser tests, and nbval over every stored notebook, one thread
#     per process, spread over two worker processes (pytest-xdist). Each test file and each notebook
#     stays on one worker (tests/conftest.py), so a notebook's cells run in order in one kernel; only
#     the independent tests of the files in tests/conftest.py's SPREAD (browser pages, the slowest files)
#     are spread over both one by one;
#  2. nbval again, in a perturbed floating-point environment: no SIMD in ATen's kernels
#     (ATEN_CPU_CAPABILITY=default), MKL's compatible code path (MKL_CBWR=COMPATIBLE) and two threads,
#     over the notebooks that train or sweep (matrix products and reductions, whose last bit depends
#     on the CPU). The stored outputs must match both, so no printed number depends on the CPU.
#     Two workers of two threads each: the four threads oversubscribe the two cores, so OpenMP's idle
#     threads must sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE; spinning threads slow small matrix
#     products down many times). The wait policy changes no result: the thread count, and so the way
#     each reduction is split, stays two.
#     `make test-perturbed ALL=1` runs the perturbed pass over every notebook.
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | sort)
TRAINING_NOTEBOOKS := book/01_sgd.ipynb book/05_pytorch_adam.ipynb book/06_choosing.ipynb \
                      book/08_adam_family.ipynb book/09_classic.ipynb book/10_large_scale.ipynb
NBVAL     := -p nbval_plugin --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
             --nbval-cell-timeout=300 -p no:cacheprovider
WORKERS   := -n 2 --dist loadscope
# The first pass pins ATen's kernels to AVX2 (what this machine's CPUs pick; a CPU with AVX-512 would otherwise pick
# other kernels, whose sums round differently): the browser tests compare the explorers' JavaScript with optimlab
# to the last bit, which holds for torch's AVX2 kernels (tests/test_browser_*.py).
PINNED    := ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PERTURBED := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

test: setup chromium poppler $(HTML)/.built $(PDF_IN_SITE)
	$(PINNED) $(BIN)/python -m pytest $(NOTEBOOKS) tests $(NBVAL) $(WORKERS) -ra --durations=15
	$(PERTURBED) $(BIN)/python -m pytest $(TRAINING_NOTEBOOKS) $(NBVAL) $(WORKERS) -q --durations=10

# The developer loop: the library, oracle, validation and scheduler tests (no browser, no notebook, no
# file marked slow in tests/conftest.py, which then does not even import those files). Under a minute;
# make test still runs everything. One thread per worker as in make test (two workers of two threads
# would oversubscribe the two cores); nbval's plugin is not loaded (importing it costs seconds per process).
.PHONY: check
check: python
	$(PINNED) $(BIN)/python -m pytest tests -m "not slow and not browser and not nbval" \
	  -p no:nbval $(WORKERS) -q

# The perturbed pass alone (what a CPU other than ours does to the book's numbers).
.PHONY: test-perturbed
test-perturbed: setup
	$(PERTURBED) $(BIN)/python -m pytest $(if $(ALL),$(NOTEBOOKS),$(TRAINING_NOTEBOOKS)) $(NBVAL) -q

clean:
	rm -rf _build artifacts .cache

# ---------------------------------------------------------------- Binder
# binder/requirements.txt is requirements.txt with torch's CPU-only build (tests/test_binder.py
# keeps the two consistent). Regenerate it after changing requirements.txt: make binder
.PHONY: binder
binder:
	{ echo "# 由 make binder 从 ../requirements.txt 生成，请勿手改。mybinder.org 没有 GPU：torch 用 CPU 版。"; \
	  echo "--extra-index-url https://download.pytorch.org/whl/cpu"; \
	  grep -v -E '^\s*(#|$$)' requirements.txt | sed -E 's/^torch==([^+]+)$$/torch==\1+cpu/'; } > binder/requirements.txt

# SPDX-License-Identifier: GPL-2.0
#
# Entry point of the P2P dma-buf series and its QEMU lab.  Run as root on
# Debian 12.  See README.md.

LAB := lab
SHELL := /bin/bash

# make check SUITES="static selftest-switch"
SUITES ?=
# make vm T=switch CMD='lspci -tv' [KARGS=iommu=pt] [QARGS=...] [SIZE=4G]
T ?= rootports
CMD ?= lspci -tv
KARGS ?=
QARGS ?=
SIZE ?= 64M
# make series [OUT=dir] [PREFIX="RFC PATCH v2"]
OUT ?=
PREFIX ?= PATCH

all: build

build:
	@$(LAB)/build

setup:
	@$(LAB)/setup

sync:
	@source $(LAB)/lib.sh && LAB_SRC=$$LAB_SRC python3 $(LAB)/tree.py sync $(if $(DISCARD),--discard)

save:
	@source $(LAB)/lib.sh && LAB_SRC=$$LAB_SRC python3 $(LAB)/tree.py save $(if $(PATCH),--patch $(PATCH))

status:
	@source $(LAB)/lib.sh && LAB_SRC=$$LAB_SRC python3 $(LAB)/tree.py status

series:
	@source $(LAB)/lib.sh && $(LAB)/setup && \
	LAB_SRC=$$LAB_SRC LAB_SERIES_TREE=$$LAB_SERIES_TREE \
	python3 $(LAB)/series.py build --out "$(if $(OUT),$(OUT),$$LAB_SERIES)" --prefix "$(PREFIX)"

series-check:
	@$(LAB)/series-check

check: build
	@$(LAB)/check $(SUITES)

demo: build
	@$(LAB)/demo

# the release build of the tree, which lab/bench builds itself
bench:
	@$(LAB)/bench

# make mutants [MUTANTS="bus-offset-sign no-fence-wait"]
mutants: build
	@$(LAB)/mutants $(MUTANTS)

vm: build
	@$(LAB)/vm -t $(T) -s $(SIZE) $(if $(KARGS),-a "$(KARGS)") $(if $(QARGS),-q "$(QARGS)") -v "$(CMD)"

paths:
	@source $(LAB)/lib.sh && \
	echo "source: $$LAB_SRC" && \
	echo "build: $$LAB_OUT" && \
	echo "kernel: $$LAB_KIMAGE" && \
	echo "selftests: $$LAB_KSFT" && \
	echo "labtests: $$LAB_TESTS" && \
	echo "vm: $(CURDIR)/$(LAB)/vm" && \
	echo "runs: $$LAB_RUNS" && \
	echo "series: $$LAB_SERIES" && \
	echo "ccache: $$CCACHE_DIR" && \
	echo "bench (release) build: $$(LAB_FLAVOR=release; source $(LAB)/lib.sh && echo $$LAB_OUT)"

# both flavors' objects, modules and test programs
clean:
	@for f in debug release; do \
		(LAB_FLAVOR=$$f; source $(LAB)/lib.sh && \
		 rm -rf "$$LAB_OUT" "$$LAB_KSFT" "$$LAB_TESTS" "$$LAB_MODS"); \
	done

.PHONY: all build setup sync save status series series-check check demo bench mutants vm paths clean

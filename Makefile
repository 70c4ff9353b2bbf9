# rackswarm — see README.md. `make demo` runs the main job; `make test` runs every test.
SWIFT ?= swift
BUILD_FLAGS ?=
# Release binaries link the Swift runtime and Foundation statically: `reconcile` starts in ~10 ms instead of ~14 ms,
# which counts for an operator command such as `reconcile power` (benchmarks/bench-power.sh).
# They are linked by the toolchain's lld with the relative relocations packed (DT_RELR, glibc 2.36) and none of the
# executable's symbols exported. Linked the default way (gold, 155,000 RELA entries, 57,000 exported symbols), the
# loader read 3.6 MB of relocations and searched 2.7 MB of symbol tables before `main`: `reconcile --help` peaked at
# 31.4 MB resident, now 25.1 MB (benchmarks/bench-site.sh). Nothing looks the executables' own symbols up at run time.
RELEASE_FLAGS ?= --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs \
	-Xlinker --no-export-dynamic
export RACKSWARM_PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: setup build release package demo demo-down test bench bench-smoke fuzz clean installer agent-static image

setup:
	bash scripts/setup.sh

build: setup
	$(SWIFT) build $(BUILD_FLAGS)

release: setup
	$(SWIFT) build -c release $(RELEASE_FLAGS) $(BUILD_FLAGS)

# Debian packages (rackswarm, rackswarm-agent) and the agent's RPM into dist/ (see scripts/package.sh).
package: setup
	bash scripts/package.sh dist

demo: build
	bash scripts/demo.sh

demo-down:
	bash scripts/demo.sh down

# The qemu suites run after the rest, alone: two TCG guests take both cores, and timing-sensitive tests (BMC
# timeouts, swarm deadlines) running beside them would measure the guests, not the code.
VM_SUITES := VMConvergenceTests|InstallerBuildTests
# The BMC and swarm suites bound how long a failure or a first block may take; they run before the labs start, so
# the bounds measure the code rather than 130 suites starting at once on 2 cores.
TIMED_SUITES := PowerTests|TorrentTests
# The labs (loopback reconcilers, namespaces, swarms) count power-ons and bound installs: they run on their own too,
# with the dnsmasq namespace test (a real DHCP exchange, which missed its deadline beside 300 other tests).
LAB_SUITES := ConvergenceTests|LabTests|DistributionLabTests|DnsmasqNamespaceTests
# Three reconcilers, PostgreSQL and three installs at once: the scale-out takeover runs after the other labs, alone,
# so that a slow machine's other labs do not stretch its installs past the moment the test kills a reconciler.
SCALE_SUITES := ScaleOutTests
# The lab's VM tests boot the installer and the image: build them first (cached after the first run).
test: setup installer image
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) build --product generate-manual $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --filter '$(TIMED_SUITES)' $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --skip '$(TIMED_SUITES)|$(LAB_SUITES)|$(VM_SUITES)' $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --filter '$(LAB_SUITES)' --skip '$(VM_SUITES)|$(SCALE_SUITES)' $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --filter '$(SCALE_SUITES)' $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --filter '$(VM_SUITES)' $(BUILD_FLAGS)

bench: release
	bash benchmarks/run.sh

# Every benchmark once at its smallest size, in a throw-away copy (CI runs it after the tests; a few minutes).
bench-smoke: release
	bash scripts/bench-smoke.sh

# libFuzzer on every parser, FUZZ_SECONDS each (see README, Fuzzing).
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

# provision-agent as the install environment and the installed OS run it: release, Swift runtime linked in.
AGENT_STATIC := .build/release/provision-agent
agent-static: setup
	$(SWIFT) build -c release --product provision-agent $(RELEASE_FLAGS) $(BUILD_FLAGS)

# The install environment (docs/install-environment.md): build/installer/{vmlinuz,initramfs.img,SHA256SUMS}.
installer: agent-static
	bash scripts/installer/build.sh build/installer $(AGENT_STATIC)

# The example site's OS image (docs/os-image.md): build/image/debian-12.img, a raw whole-disk image. Needs root.
image: installer
	bash scripts/image/build.sh build/image/debian-12.img $(AGENT_STATIC) build/installer

clean:
	rm -rf .build

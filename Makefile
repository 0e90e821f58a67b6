# The README's two commands. Both install what is missing first (Debian packages).
#   make demo  - the whole engine on its embedded default, until Ctrl-C
#   make test  - the whole test suite (what CI runs)

DEBIAN_PACKAGES := libpq-dev librdkafka-dev libmosquitto-dev libssl-dev postgresql mosquitto mosquitto-clients openssl pkg-config chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Swift's toolchain, for shells that did not read /etc/profile.d (ssh host 'make demo', cron).
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT_TEST_FLAGS ?=

.PHONY: demo test deps bench

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

demo: deps
	swift build -c release --product nilecare-vitals
	.build/release/nilecare-vitals demo

# The pipelines' concurrency tests (PipelineTests, IngestPipelineTests) run a second time under
# ThreadSanitizer.
# Three MLLP tests run after the rest, one after the other. The slow-commit test times a sender
# against an idle timeout: with the suite around it, two cores can starve its connection for as
# long (it failed so in one of four full runs). The flood test keeps one of the event loops that
# all test engines share busy for seconds (20,000 empty frames answered in a debug build): other
# tests' connects timed out beside it, and the slow-commit test's connection was closed as idle.
# The burst test's 5,000 answers took 128-181 s beside the suite, against its suite's 3-minute
# limit (it ran out once).
RUN_ALONE := aSlowCommitDoesNotMakeTheSenderIdle|aFloodOfTinyFramesIsNotAnsweredIntoMemory|aBurstOfTinyFramesIsAnsweredInOrder

# At most this many tests run at once. Unbounded, every test starts together: on two cores some
# 35 engines (400 threads) ran at once, the shared event loops answered seconds late, and tests
# of real-time behaviour failed (a 10 s connect timeout on loopback, an ACK not within 10 s).
# With 8 the same suite took about as long (204-230 s against 237-278 s) and no event-loop
# task waited more than 0.5 s. Swift Testing reads it from the environment.
TEST_PARALLELISM ?= 8
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH := $(TEST_PARALLELISM)

test: deps
	swift build --build-tests
	swift test --skip-build $(SWIFT_TEST_FLAGS) --skip '$(RUN_ALONE)'
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=1 swift test --skip-build --filter '$(RUN_ALONE)'
	swift build --build-tests --sanitize=thread --scratch-path .build-tsan
	swift test --skip-build --sanitize=thread --scratch-path .build-tsan --filter PipelineTests

bench: deps
	swift build -c release --product vitals-bench
	.build/release/vitals-bench all

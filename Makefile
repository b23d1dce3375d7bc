# Entry points named in the README.
.PHONY: demo test lint bench

# The demo: a live replicated cluster, the proxy in front, the storefront workload, where
# queries went. DURATION=60 make demo for a longer run.
DURATION ?= 30
demo:
	bash scripts/deps.sh
	cargo build --release
	target/release/rwproxy demo --duration $(DURATION)

# Unit tests, then the integration suite against real MariaDB servers it starts itself.
# Each step has a time limit (about ten times what it takes here), so a hung test fails
# the run instead of hanging it; scripts/test-step.sh stops any servers it left.
test:
	bash scripts/deps.sh
	cargo test --no-run --lib --bins --test integration --test replication --test faults
	bash scripts/test-step.sh 300 cargo test --lib --bins
	bash scripts/test-step.sh 720 cargo test --test integration -- --test-threads=4
	bash scripts/test-step.sh 300 cargo test --test replication
	bash scripts/test-step.sh 480 cargo test --test faults

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# criterion micro-benchmarks, sysbench direct vs haproxy vs rwproxy, then RSS per client (about 40 min with
# the defaults; TESTS, THREADS, DURATION and ROUNDS narrow it, see bench/sysbench-compare.sh).
bench:
	bash scripts/deps.sh --bench
	cargo bench --bench codec --bench classify --bench balancer
	cargo build --release --bin rwproxy
	bash bench/sysbench-compare.sh --self-start
	bash bench/conn-memory.sh --self-start

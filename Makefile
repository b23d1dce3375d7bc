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
test:
	bash scripts/deps.sh
	cargo test --lib --bins
	cargo test --test integration -- --test-threads=4
	cargo test --test replication
	cargo test --test faults

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# criterion micro-benchmarks, then sysbench direct vs haproxy vs rwproxy (about 20 min with
# the defaults; TESTS, THREADS, DURATION and ROUNDS narrow it, see bench/sysbench-compare.sh).
bench:
	bash scripts/deps.sh --bench
	cargo bench --bench codec --bench classify --bench balancer
	cargo build --release --bin rwproxy
	bash bench/sysbench-compare.sh --self-start

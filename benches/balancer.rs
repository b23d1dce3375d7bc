//! The balancer's pick for a read: weighted, lag-filtered, over a snapshot of three and
//! of eight backends (the target is ≤ 100 ns a pick).

use criterion::{criterion_group, criterion_main, Criterion};
use rwproxy::config::Config;
use rwproxy::replication::balancer::pick_replica;
use rwproxy::replication::Topology;
use std::hint::black_box;
use std::path::Path;

/// A config with a primary and `replicas` replicas of weights 1, 2, 3, …
fn topology(replicas: usize) -> Topology {
    let mut text = String::from(
        "[[users]]\nname = \"a\"\npassword = \"a\"\n\
         [[backends]]\nname = \"p\"\naddress = \"127.0.0.1:1\"\nrole = \"primary\"\n",
    );
    for i in 0..replicas {
        text.push_str(&format!(
            "[[backends]]\nname = \"r{i}\"\naddress = \"127.0.0.1:{}\"\nrole = \"replica\"\nweight = {}\n",
            i + 2,
            i + 1
        ));
    }
    Topology::from_config(&Config::parse(&text, Path::new("bench.toml")).expect("config"))
}

fn picks(c: &mut Criterion) {
    let mut group = c.benchmark_group("balancer");
    for n in [2, 7] {
        let topo = topology(n);
        group.bench_function(format!("pick_of_{}_backends", n + 1), |b| {
            b.iter(|| black_box(pick_replica(black_box(&topo), &[], None)))
        });
    }
    let topo = topology(2);
    group.bench_function("pick_with_statement_bound", |b| {
        b.iter(|| black_box(pick_replica(&topo, &[], black_box(Some(200)))))
    });
    group.finish();
}

criterion_group!(benches, picks);
criterion_main!(benches);

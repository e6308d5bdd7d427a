use ccaf_housekeeping::confluent::kafka::KafkaConfig;
use ccaf_housekeeping::tracker::{Record, State, Tracker};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let cfg = KafkaConfig::plaintext(std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap());
    let topic = format!("timing-{}", std::process::id());
    let t0 = Instant::now();
    let t = Tracker::open(&cfg, &topic).await.unwrap();
    println!("open {:?}", t0.elapsed());
    let t0 = Instant::now();
    t.ensure_topic().await.unwrap();
    println!("ensure {:?}", t0.elapsed());
    for i in 0..3 {
        let t0 = Instant::now();
        t.put(&Record::new(
            "app",
            "env-1",
            format!("s-{i}"),
            "SELECT 1",
            State::Deployed,
        ))
        .await
        .unwrap();
        println!("put {:?}", t0.elapsed());
    }
    for _ in 0..4 {
        let t0 = Instant::now();
        let s = t.load().await.unwrap();
        println!("load {} {:?}", s.records.len(), t0.elapsed());
    }
}

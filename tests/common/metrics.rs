//! Reading the internal server's /metrics.

use super::http_client::get;

pub fn scrape(internal: &str) -> prometheus_parse::Scrape {
    let r = get(internal, "/metrics", &[]);
    assert_eq!(r.status, 200);
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let body = r.body_str();
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("valid Prometheus text")
}

/// The value of `metric` with these labels (summed over the other labels).
pub fn value(s: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(b) => b.iter().map(|c| c.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

/// One metric from a fresh scrape.
pub fn metric(internal: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(&scrape(internal), metric, labels)
}

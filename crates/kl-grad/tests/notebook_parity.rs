//! Parity with the seed notebook: 20 plain SGD steps at 0.1 on the closed-form forward KL from the
//! notebook's initial model reproduce its 21 states (a float32 run) to 1e-4, and its losses once
//! the constants it drops are added back.

use kl_dist::Mvn;
use kl_grad::{ForwardKlExact, Objective, pack_theta};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("not a number or array: {other}"),
    }
}

#[test]
fn twenty_sgd_steps_reproduce_the_notebook() {
    let text = kl_testkit::NOTEBOOK_GAUSSIAN_TRACE;
    let fixture: Value = serde_json::from_str(text).expect("fixture parses");
    let target = &fixture["target"];
    let p = Mvn::new(&floats(&target["mean"]), &floats(&target["cov"])).expect("target is valid");
    let states = fixture["states"].as_array().expect("states");
    let losses = floats(&fixture["loss"]);
    assert_eq!(states.len(), 21);
    let lr = fixture["learning_rate"].as_f64().expect("learning rate");

    // The notebook's loss drops −log det Σp − d from 2·KL: add them back to compare values.
    let dropped = 0.5 * (p.log_det_covariance() + 2.0);
    let mut objective = ForwardKlExact::new(p);
    let mut theta = pack_theta(&floats(&states[0]["mean"]), &floats(&states[0]["raw"]));
    let mut grad = vec![0.0; theta.len()];
    for (k, state) in states.iter().enumerate() {
        let expected = pack_theta(&floats(&state["mean"]), &floats(&state["raw"]));
        for (i, (a, b)) in theta.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "state {k}, θ[{i}]: {a} vs notebook {b}"
            );
        }
        let kl = objective
            .value_and_grad(&theta, &mut grad)
            .expect("model stays non-singular");
        if let Some(loss) = losses.get(k) {
            let notebook = kl + dropped;
            assert!(
                (notebook - loss).abs() <= 1e-4 * (1.0 + loss.abs()),
                "loss {k}: {notebook} vs notebook {loss}"
            );
        }
        theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= lr * g);
    }
}

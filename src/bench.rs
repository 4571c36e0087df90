//! Benchmarks that print figures: `onewindow bench dsl`.
//!
//! Each figure is the median of several runs on this machine; `--json` ends
//! the output with one line holding all of them.

use std::time::{Duration, Instant};

use crate::dsl;

/// How many times each measurement is repeated; the median is reported.
const RUNS: usize = 7;
/// The size of the generated definition.
const GENERATED_BYTES: usize = 1024 * 1024;

/// Checks the given definitions, then a generated definition of 1 MB, and
/// prints the figures.
///
/// # Errors
/// When the shipped definitions do not check, or the generated one does not.
pub fn dsl(input: &dsl::Input, json: bool) -> Result<(), String> {
    let shipped = dsl::load(input);
    if shipped.checked.has_errors() {
        return Err(format!(
            "the definitions do not check:\n{}",
            shipped.render_diagnostics()
        ));
    }
    let shipped_bytes: usize = input.flows.iter().map(|(_, text)| text.len()).sum();
    let shipped_time = median(|| {
        let loaded = dsl::load(input);
        std::hint::black_box(loaded.checked.workflows.len());
    });

    let generated = generate(input, GENERATED_BYTES);
    let generated_bytes: usize = generated.flows.iter().map(|(_, text)| text.len()).sum();
    let check = dsl::load(&generated);
    if check.checked.has_errors() {
        return Err(format!(
            "the generated definition does not check:\n{}",
            check.render_diagnostics()
        ));
    }
    let workflows = check.checked.workflows.len();
    let generated_time = median(|| {
        let loaded = dsl::load(&generated);
        std::hint::black_box(loaded.checked.workflows.len());
    });
    let megabytes = generated_bytes as f64 / (1024.0 * 1024.0);
    let throughput = megabytes / generated_time.as_secs_f64();

    println!(
        "workflows/: {} workflows, {} bytes, checked in {:.3} ms (median of {RUNS})",
        shipped.checked.workflows.len(),
        shipped_bytes,
        ms(shipped_time)
    );
    println!(
        "generated: {workflows} workflows, {generated_bytes} bytes ({megabytes:.2} MB), checked in {:.3} ms (median of {RUNS}), {throughput:.1} MB/s",
        ms(generated_time)
    );
    println!(
        "goal: 1 MB checked in under 50 ms: {}",
        if ms(generated_time) / megabytes < 50.0 {
            "met"
        } else {
            "missed"
        }
    );
    if json {
        let figures = serde_json::json!({
            "bench": "dsl",
            "shipped_workflows": shipped.checked.workflows.len(),
            "shipped_bytes": shipped_bytes,
            "shipped_check_ms": ms(shipped_time),
            "generated_workflows": workflows,
            "generated_bytes": generated_bytes,
            "generated_check_ms": ms(generated_time),
            "throughput_mb_per_s": throughput,
            "runs": RUNS,
        });
        println!("{figures}");
    }
    Ok(())
}

/// A definition of at least `bytes` bytes: the shipped departments once, and
/// the shipped workflows repeated under new names.
pub fn generate(input: &dsl::Input, bytes: usize) -> dsl::Input {
    let (departments, workflows): (Vec<_>, Vec<_>) = input
        .flows
        .iter()
        .partition(|(_, text)| !text.contains("\nworkflow ") && !text.starts_with("workflow "));
    let mut text = String::with_capacity(bytes + 64 * 1024);
    for (_, department_text) in &departments {
        text.push_str(department_text);
        text.push('\n');
    }
    let mut copy = 0;
    while text.len() < bytes && !workflows.is_empty() {
        for (_, workflow_text) in &workflows {
            let renamed =
                workflow_text.replacen("\nworkflow ", &format!("\nworkflow copy{copy}_"), 1);
            text.push_str(&renamed);
            text.push('\n');
        }
        copy += 1;
    }
    dsl::Input {
        flows: vec![("generated.flow".to_string(), text)],
        templates: input.templates.clone(),
    }
}

fn median(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[RUNS / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

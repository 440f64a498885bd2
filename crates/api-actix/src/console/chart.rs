//! The balance-over-time chart: an inline SVG step line drawn on the server from the balance
//! log (no script, no external library), with a text summary for screen readers.

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::Money;
use rust_decimal::prelude::ToPrimitive;

use super::layout::{date, money};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 12.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 28.0;

/// The chart of `entries` (oldest first), ending at `balance` now.
pub(crate) fn balance_chart(
    entries: &[BalanceLogEntry],
    balance: &Money,
    now: DateTime<Utc>,
) -> Markup {
    let Some(first) = entries.first() else {
        // Still a chart, so the page always has one: a flat line at today's balance.
        let summary = format!("No balance changes yet. Balance {}.", money(balance));
        let y = format!("{:.1}", HEIGHT - BOTTOM);
        return html! {
            figure class="chart" {
                svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
                    role="img" aria-labelledby="chart-title chart-desc" {
                    title id="chart-title" { "Balance over time" }
                    desc id="chart-desc" { (summary) }
                    polyline class="balance" points=(format!("{LEFT},{y} {},{y}", WIDTH - RIGHT)) {}
                    text class="label" x=(LEFT) y=(HEIGHT - 8.0) { (date(&now.date_naive())) }
                }
                figcaption { (summary) }
            }
        };
    };
    let start = first.created_at;
    let end = now.max(start + chrono::Duration::seconds(1));
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x = |at: DateTime<Utc>| {
        LEFT + (at - start).num_milliseconds() as f64 / span * (WIDTH - LEFT - RIGHT)
    };
    let amounts: Vec<f64> = std::iter::once(&first.previous_balance)
        .chain(entries.iter().map(|e| &e.new_balance))
        .map(|m| m.amount().to_f64().unwrap_or(0.0))
        .collect();
    let low = amounts.iter().copied().fold(0.0_f64, f64::min);
    let high = amounts.iter().copied().fold(0.0_f64, f64::max);
    let range = if high - low > 0.0 { high - low } else { 1.0 };
    let y = |amount: f64| TOP + (high - amount) / range * (HEIGHT - TOP - BOTTOM);

    // A step line: the balance holds until the next change.
    let mut points = vec![(x(start), y(amounts[0]))];
    for (entry, amount) in entries.iter().zip(&amounts[1..]) {
        let at = x(entry.created_at);
        let previous = points.last().map_or(y(amounts[0]), |p| p.1);
        points.push((at, previous));
        points.push((at, y(*amount)));
    }
    points.push((x(end), points.last().map_or(y(0.0), |p| p.1)));
    let line: String = points
        .iter()
        .map(|(px, py)| format!("{px:.1},{py:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let peak = entries
        .iter()
        .map(|e| &e.new_balance)
        .max_by(|a, b| a.amount().cmp(&b.amount()))
        .unwrap_or(balance);
    let summary = format!(
        "Balance from {} to {}: {} changes, highest {}, now {}.",
        date(&start.date_naive()),
        date(&end.date_naive()),
        entries.len(),
        money(peak),
        money(balance)
    );
    let zero_y = format!("{:.1}", y(0.0));
    // Axis labels: dates, or date and time when the whole history is within two days.
    let label = |at: &DateTime<Utc>| {
        if end - start < chrono::Duration::days(2) {
            at.format("%Y-%m-%d %H:%M").to_string()
        } else {
            date(&at.date_naive())
        }
    };
    html! {
        figure class="chart" {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
                role="img" aria-labelledby="chart-title chart-desc" {
                title id="chart-title" { "Balance over time" }
                desc id="chart-desc" { (summary) }
                line class="axis" x1=(LEFT) x2=(WIDTH - RIGHT) y1=(zero_y) y2=(zero_y) {}
                polyline class="balance" points=(line) {}
                text class="label" x=(LEFT) y="16" { (money(peak)) " max" }
                text class="label" x=(LEFT) y=(HEIGHT - 8.0) { (label(&start)) }
                text class="label end" x=(WIDTH - RIGHT) y=(HEIGHT - 8.0) text-anchor="end" {
                    (label(&end))
                }
            }
            figcaption { (summary) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_domain::{Currency, OrganizationId, PaymentId};
    use uuid::Uuid;

    fn rub(text: &str) -> Money {
        Money::parse(text, Currency::RUB).unwrap()
    }

    fn entry(previous: &str, new: &str, at: &str) -> BalanceLogEntry {
        let (previous, new) = (rub(previous), rub(new));
        BalanceLogEntry {
            id: Uuid::new_v4(),
            organization_id: OrganizationId::new_random(),
            payment_id: PaymentId::generate(),
            delta_minor_units: new.to_minor_units() - previous.to_minor_units(),
            previous_balance: previous,
            new_balance: new,
            created_at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn the_chart_is_an_svg_step_line_with_a_summary() {
        let entries = [
            entry("0", "100", "2026-11-01T00:00:00Z"),
            entry("100", "250", "2026-11-02T00:00:00Z"),
            entry("250", "50", "2026-11-03T00:00:00Z"),
        ];
        let now = DateTime::parse_from_rfc3339("2026-11-04T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let svg = balance_chart(&entries, &rub("50"), now).into_string();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("<polyline class=\"balance\""));
        assert!(svg.contains("Balance over time"));
        assert!(svg.contains(
            "Balance from 2026-11-01 to 2026-11-04: 3 changes, highest 250.00 RUB, now 50.00 RUB."
        ));
        // start, two points per change, end.
        let points = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 1 + 2 * 3 + 1);
        // The highest balance is at the top of the plot, zero at the bottom.
        assert!(points.contains(&format!(",{TOP:.1}")));
    }

    #[test]
    fn no_entries_draw_a_flat_line() {
        let html = balance_chart(&[], &rub("0"), Utc::now()).into_string();
        assert!(html.contains("No balance changes yet. Balance 0.00 RUB."));
        assert!(
            html.contains("<svg"),
            "a flat chart, so the page always has one"
        );
    }
}

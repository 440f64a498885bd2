//! The operational hooks of the HTTP layer, backed by the database adapter.

use async_trait::async_trait;
use payments_adapters_diesel::BatchObserver;
use payments_adapters_diesel::Database;
use payments_api_actix::{Metrics, PoolStats, PoolStatsSource, ReadinessCheck};

/// Ready when the database answers and every migration is applied. Reasons are short and
/// never carry connection strings.
pub struct DatabaseReadiness(pub Database);

#[async_trait]
impl ReadinessCheck for DatabaseReadiness {
    async fn check(&self) -> Result<(), String> {
        self.0
            .ping()
            .await
            .map_err(|_| "database unreachable".to_string())?;
        let database = self.0.clone();
        let pending = tokio::task::spawn_blocking(move || database.has_pending_migrations())
            .await
            .map_err(|_| "migration check failed".to_string())?
            .map_err(|_| "migration check failed".to_string())?;
        if pending {
            Err("database migrations pending".to_string())
        } else {
            Ok(())
        }
    }
}

/// Pool gauges for `/metrics`.
pub struct DatabasePoolStats(pub Database);

impl PoolStatsSource for DatabasePoolStats {
    fn pool_stats(&self) -> PoolStats {
        let state = self.0.pool_state();
        PoolStats {
            size: state.connections,
            idle: state.idle,
            max_size: state.max_size,
            checkouts: state.checkouts,
            wait_seconds: state.wait_seconds,
            checkout_failures: state.checkout_failures,
            corrupt_rows: state.corrupt_rows,
        }
    }
}

/// Batch size and wait of the group commit, as Prometheus histograms.
pub struct BatchMetrics(pub Metrics);

impl BatchObserver for BatchMetrics {
    fn batch_written(&self, items: usize, waited: std::time::Duration) {
        self.0.observe_batch(items, waited.as_secs_f64());
    }
}

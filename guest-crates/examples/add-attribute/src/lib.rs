//! Example tracemend processor: adds one attribute to every span and log
//! record, optionally only to spans whose status is error.
//!
//! Copy this directory to start your own processor. YAML:
//!
//! ```yaml
//! processors:
//!   wasm/add_attribute:
//!     module: ./add_attribute.wasm
//!     config: { key: team, value: payments, only_errors: false }
//! ```

use tracemend_sdk::{Batch, Edits, Processor, export_processor};

struct AddAttribute {
    key: String,
    value: String,
    only_errors: bool,
}

impl Processor for AddAttribute {
    fn configure(config: &str) -> Result<Self, String> {
        let json: serde_json::Value =
            serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
        let Some(obj) = json.as_object() else {
            return Err("config must be a map".into());
        };
        for k in obj.keys() {
            if !["key", "value", "only_errors"].contains(&k.as_str()) {
                return Err(format!(
                    "config.{k}: unknown key (expected key, value, only_errors)"
                ));
            }
        }
        let key = obj
            .get("key")
            .and_then(|v| v.as_str())
            .filter(|k| !k.is_empty())
            .ok_or("config.key: required, a non-empty string")?
            .to_owned();
        let value = match obj.get("value") {
            None => String::new(),
            Some(v) => v
                .as_str()
                .ok_or("config.value: must be a string")?
                .to_owned(),
        };
        let only_errors = match obj.get("only_errors") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or("config.only_errors: must be true or false")?,
        };
        Ok(AddAttribute {
            key,
            value,
            only_errors,
        })
    }

    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        for span in batch.spans() {
            if !self.only_errors || span.is_error() {
                edits.set_attribute(&span, &self.key, self.value.as_str());
            }
        }
        Ok(())
    }

    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        for log in batch.logs() {
            edits.set_attribute(&log, &self.key, self.value.as_str());
        }
        Ok(())
    }
}

export_processor!(AddAttribute);

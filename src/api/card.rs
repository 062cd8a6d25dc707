//! The HTML model card: `healthml.model_card(..., format => 'html')` gathers the figures in SQL
//! (sql/extension/model_card.sql) and this draws the page (crates/core/src/card.rs).

use healthml_core::card::{render, CardData};
use healthml_core::Error;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::raise;

/// The model card page from what `healthml.model_card` gathered from the registry.
#[pg_extern(immutable, parallel_safe, strict, name = "_model_card_html")]
fn model_card_html(card: JsonB) -> String {
    let data: CardData = serde_json::from_value(card.0).unwrap_or_else(|e| {
        raise(
            Error::invalid_parameter(format!("the model card's figures do not read: {e}"))
                .with_hint("healthml.model_card gathers them: call healthml.model_card(model_name, version, 'html')"),
        )
    });
    render(&data)
}

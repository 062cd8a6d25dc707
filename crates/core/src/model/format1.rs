//! The reader of payload format 1, which healthml 0.1.0 wrote: the same layout as format 2 except
//! a gbdt, which is forust 0.8's `GradientBooster` as serde serializes it (every tree trained,
//! with `prediction_iteration` marking those that predict). Kept so that every model 0.1.0 stored
//! keeps scoring and explaining bit for bit (tests/fixtures/0.1.0); read only, converted to the
//! current structs on load. Never change these structs: they are what 0.1.0 wrote.

use forust_ml::gradientbooster::GradientBooster;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::gbdt::GbdtModel;
use crate::model::logistic::LogisticModel;
use crate::model::{EnsembleMember, Estimator, Platt, TrainedModel};
use crate::prep::recipe::Recipe;

#[derive(Serialize, Deserialize)]
pub struct TrainedModelV1 {
    pub recipe: Recipe,
    pub features: Vec<String>,
    pub estimator: EstimatorV1,
    pub threshold: f64,
    #[serde(default)]
    pub calibration: Option<Platt>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", content = "model", rename_all = "snake_case")]
pub enum EstimatorV1 {
    Logistic(LogisticModel),
    Gbdt(Box<GbdtV1>),
    Ensemble(Vec<EnsembleMemberV1>),
}

#[derive(Serialize, Deserialize)]
pub struct GbdtV1 {
    pub booster: GradientBooster,
    pub trees_used: usize,
}

#[derive(Serialize, Deserialize)]
pub struct EnsembleMemberV1 {
    pub weight: f64,
    pub model: TrainedModelV1,
}

impl TrainedModelV1 {
    /// The model in today's structs. A gbdt keeps its prediction trees only: the trees forust
    /// grew past the early-stopping iteration never took part in a score or an explanation.
    pub fn upgrade(self) -> Result<TrainedModel> {
        let estimator = match self.estimator {
            EstimatorV1::Logistic(m) => Estimator::Logistic(m),
            EstimatorV1::Gbdt(g) => {
                let model = GbdtModel::from_forust(&g.booster)?;
                if model.trees_used() != g.trees_used {
                    return Err(crate::error::Error::corrupted(format!(
                        "{} prediction trees for the stored trees_used {}",
                        model.trees_used(),
                        g.trees_used
                    )));
                }
                Estimator::Gbdt(model)
            }
            EstimatorV1::Ensemble(members) => Estimator::Ensemble(
                members
                    .into_iter()
                    .map(|m| Ok(EnsembleMember { weight: m.weight, model: m.model.upgrade()? }))
                    .collect::<Result<_>>()?,
            ),
        };
        Ok(TrainedModel {
            recipe: self.recipe,
            features: self.features,
            estimator,
            threshold: self.threshold,
            calibration: self.calibration,
        })
    }
}

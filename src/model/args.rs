//! `model_args` from config.json as the builders read them: the arguments that change nothing at
//! inference are accepted here once, each builder takes the ones it implements, and any other
//! is refused by name.

use serde_json::{Map, Value};

use super::ModelError;

/// One `model_args` entry.
pub struct Arg<'a> {
    pub name: &'a str,
    pub value: &'a Value,
}

impl Arg<'_> {
    pub fn bad(&self, reason: &str) -> ModelError {
        ModelError::ModelArg {
            name: self.name.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn positive_int(&self) -> Result<usize, ModelError> {
        self.value
            .as_u64()
            .filter(|&v| v > 0)
            .map(|v| v as usize)
            .ok_or_else(|| self.bad("expected a positive integer"))
    }

    /// A non-empty list of positive integers (stage depths, widths).
    pub fn positive_ints(&self) -> Result<Vec<usize>, ModelError> {
        self.value
            .as_array()
            .and_then(|list| {
                let ints = list.iter().map(|v| v.as_u64().filter(|&v| v > 0));
                ints.map(|v| v.map(|v| v as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .filter(|list| !list.is_empty())
            .ok_or_else(|| self.bad("expected a list of positive integers"))
    }

    /// [`Self::positive_ints`], exactly `N` of them.
    pub fn positive_ints_n<const N: usize>(&self) -> Result<[usize; N], ModelError> {
        self.positive_ints()?
            .try_into()
            .map_err(|_| self.bad(&format!("expected {N} positive integers")))
    }

    pub fn flag(&self) -> Result<bool, ModelError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.bad("expected true or false"))
    }

    pub fn positive_number(&self) -> Result<f64, ModelError> {
        self.value
            .as_f64()
            .filter(|&v| v > 0.0)
            .ok_or_else(|| self.bad("expected a positive number"))
    }
}

/// Walks `model_args`. Training-only arguments (`drop_rate`, `drop_path_rate`, `drop_block_rate`,
/// `zero_init_last`), `num_classes` (the config's own field decides) and the defaults
/// `global_pool: "avg"` and `output_stride: 32` pass; `take` gets every other argument and says
/// whether it implemented it; one it did not is refused, naming `family`.
pub fn apply(
    model_args: &Map<String, Value>,
    family: &str,
    mut take: impl FnMut(&Arg) -> Result<bool, ModelError>,
) -> Result<(), ModelError> {
    for (name, value) in model_args {
        let arg = Arg { name, value };
        let no_op = match name.as_str() {
            "global_pool" => value.as_str() == Some("avg"),
            "output_stride" => value.as_u64() == Some(32),
            "drop_rate" | "drop_path_rate" | "drop_block_rate" | "zero_init_last"
            | "num_classes" => true,
            _ => false,
        };
        if !no_op && !take(&arg)? {
            return Err(arg.bad(&format!(
                "this argument is not supported by SE Lens's {family}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::apply;
    use serde_json::json;

    #[test]
    fn no_ops_pass_taken_ones_apply_and_the_rest_are_refused_by_name() {
        let args = |value: serde_json::Value| value.as_object().expect("an object").clone();
        let mut width = 0;
        let take = |arg: &super::Arg| -> Result<bool, super::ModelError> {
            match arg.name {
                "width" => width = arg.positive_int()?,
                _ => return Ok(false),
            }
            Ok(true)
        };
        let ok =
            args(json!({"drop_rate": 0.2, "global_pool": "avg", "num_classes": 5, "width": 3}));
        apply(&ok, "Test", take).expect("accepted");
        assert_eq!(width, 3);
        for (bad, message) in [
            (
                json!({"global_pool": "max"}),
                "model_args.global_pool: this argument is not supported by SE Lens's Test",
            ),
            (
                json!({"depth": 3}),
                "model_args.depth: this argument is not supported by SE Lens's Test",
            ),
            (
                json!({"width": -1}),
                "model_args.width: expected a positive integer",
            ),
        ] {
            let error = apply(&args(bad), "Test", |arg| {
                Ok(arg.name == "width" && arg.positive_int().map(|_| true)?)
            })
            .expect_err("refused");
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn lists_and_flags_are_checked() {
        fn arg(value: &serde_json::Value) -> super::Arg<'_> {
            super::Arg {
                name: "depths",
                value,
            }
        }
        assert_eq!(
            arg(&json!([3, 4])).positive_ints_n::<2>().ok(),
            Some([3, 4])
        );
        for bad in [json!([3, 0]), json!([]), json!([3, "4"]), json!(3)] {
            assert!(arg(&bad).positive_ints().is_err());
        }
        assert_eq!(
            arg(&json!([3, 4, 5]))
                .positive_ints_n::<2>()
                .map_err(|e| e.to_string()),
            Err("model_args.depths: expected 2 positive integers".into())
        );
        assert_eq!(arg(&json!(true)).flag().ok(), Some(true));
        assert!(arg(&json!("yes")).flag().is_err());
    }
}

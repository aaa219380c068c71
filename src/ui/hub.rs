//! Models from the Hugging Face hub: `hf:owner/name` → the two files' resolve URLs.

/// Where `hf:` ids are fetched from unless the page's `?hub=` names another base (tests point it
/// at a local server).
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// The `config.json` and `model.safetensors` URLs of hub id `owner/name` (the `hf:` already
/// stripped) under `base`. Ids are checked against the hub's own rules (letters, digits, `-`,
/// `_`, `.`; no `..`), so nothing else can be smuggled into the URL.
pub fn hub_urls(base: &str, id: &str) -> Result<[String; 2], String> {
    let valid_part = |part: &str| {
        !part.is_empty()
            && part.len() <= 96
            && !part.contains("..")
            && !part.starts_with(['-', '.'])
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match id.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => {
            let base = base.trim_end_matches('/');
            Ok(["config.json", "model.safetensors"]
                .map(|file| format!("{base}/{owner}/{name}/resolve/main/{file}")))
        }
        _ => Err(format!(
            "'{id}' is not a hub model id like timm/seresnet50.a1_in1k"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_resolve_urls() {
        assert_eq!(
            hub_urls(DEFAULT_HUB, "timm/seresnet50.a1_in1k").unwrap()[1],
            "https://huggingface.co/timm/seresnet50.a1_in1k/resolve/main/model.safetensors"
        );
        assert_eq!(
            hub_urls("http://127.0.0.1:8392/", "a/b").unwrap()[0],
            "http://127.0.0.1:8392/a/b/resolve/main/config.json"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for id in [
            "", "timm", "timm/", "/x", "a/b/c", "a/../b", "a/b?x=1", "a/b#", "..a/b", "a/<b>",
            "a/b c", "-a/b",
        ] {
            assert!(hub_urls(DEFAULT_HUB, id).is_err(), "{id} accepted");
        }
    }
}

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

/// A pretrained checkpoint on the hub that SE Lens runs, offered in the model menu so that
/// nobody has to know an id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checkpoint {
    /// The hub id, `owner/name`.
    pub id: &'static str,
    pub title: &'static str,
    /// Parameters, in millions (the f32 download is 4 bytes each).
    pub params_m: f64,
    /// The input size its `config.json` asks for (square).
    pub input: usize,
    /// ImageNet-1k top-1, %, as timm's results table measured it, and the (square) test size it
    /// measured at; `None` for a checkpoint the table has no row for.
    pub top1: Option<(f64, usize)>,
}

/// A checkpoint with its row in timm's results table.
const fn checkpoint(
    id: &'static str,
    title: &'static str,
    params_m: f64,
    input: usize,
    top1: f64,
    test_size: usize,
) -> Checkpoint {
    Checkpoint {
        id,
        title,
        params_m,
        input,
        top1: Some((top1, test_size)),
    }
}

/// A checkpoint newer than timm's results table (commit 0173a13 has no row for it).
const fn unranked(
    id: &'static str,
    title: &'static str,
    params_m: f64,
    input: usize,
) -> Checkpoint {
    Checkpoint {
        id,
        title,
        params_m,
        input,
        top1: None,
    }
}

/// One checkpoint per family SE Lens builds that timm publishes. Parameters, top-1 and its test
/// size: timm's `results/results-imagenet.csv` (pytorch-image-models commit 0173a13); input sizes:
/// timm 1.0.31's `pretrained_cfg`.
pub const CHECKPOINTS: &[Checkpoint] = &[
    checkpoint(
        "timm/seresnet50.a1_in1k",
        "SE-ResNet-50",
        28.09,
        224,
        81.102,
        288,
    ),
    checkpoint(
        "timm/seresnext26d_32x4d.bt_in1k",
        "SE-ResNeXt-26d",
        16.81,
        224,
        78.814,
        288,
    ),
    checkpoint(
        "timm/legacy_seresnet18.in1k",
        "SE-ResNet-18 (the paper's)",
        11.78,
        224,
        71.766,
        224,
    ),
    checkpoint(
        "timm/legacy_senet154.in1k",
        "SENet-154 (the paper's)",
        115.09,
        224,
        81.308,
        224,
    ),
    checkpoint(
        "timm/resnetrs50.tf_in1k",
        "ResNet-RS-50",
        35.69,
        160,
        79.896,
        224,
    ),
    checkpoint(
        "timm/rexnet_100.nav_in1k",
        "ReXNet-1.0",
        4.8,
        224,
        77.862,
        224,
    ),
    checkpoint(
        "timm/ghostnet_100.in1k",
        "GhostNet-1.0",
        5.18,
        224,
        73.982,
        224,
    ),
    checkpoint(
        "timm/ese_vovnet19b_dw.ra_in1k",
        "VoVNet-19-DW with eSE",
        6.54,
        224,
        77.744,
        288,
    ),
    checkpoint(
        "timm/efficientnet_b0.ra_in1k",
        "EfficientNet-B0",
        5.29,
        224,
        77.694,
        224,
    ),
    checkpoint(
        "timm/tf_efficientnet_b0.in1k",
        "EfficientNet-B0 (TF port)",
        5.29,
        224,
        76.532,
        224,
    ),
    checkpoint(
        "timm/efficientnetv2_rw_t.ra2_in1k",
        "EfficientNetV2-T",
        13.65,
        224,
        82.35,
        288,
    ),
    checkpoint(
        "timm/tf_efficientnetv2_b0.in1k",
        "EfficientNetV2-B0 (TF port)",
        7.14,
        192,
        78.358,
        224,
    ),
    checkpoint("timm/mixnet_s.ft_in1k", "MixNet-S", 4.13, 224, 75.994, 224),
    checkpoint(
        "timm/tf_mixnet_s.in1k",
        "MixNet-S (TF port)",
        4.13,
        224,
        75.652,
        224,
    ),
    checkpoint(
        "timm/semnasnet_100.rmsp_in1k",
        "MnasNet-A1 with SE",
        3.89,
        224,
        75.45,
        224,
    ),
    checkpoint(
        "timm/mnasnet_small.lamb_in1k",
        "MnasNet-Small",
        2.03,
        224,
        66.196,
        224,
    ),
    checkpoint("timm/tinynet_a.in1k", "TinyNet-A", 6.19, 192, 77.658, 192),
    checkpoint(
        "timm/mobilenetv3_large_100.ra_in1k",
        "MobileNetV3-Large",
        5.48,
        224,
        75.766,
        224,
    ),
    checkpoint(
        "timm/mobilenetv3_small_100.lamb_in1k",
        "MobileNetV3-Small",
        2.54,
        224,
        67.656,
        224,
    ),
    checkpoint(
        "timm/tf_mobilenetv3_large_100.in1k",
        "MobileNetV3-Large (TF port)",
        5.48,
        224,
        75.516,
        224,
    ),
    checkpoint(
        "timm/fbnetv3_b.ra2_in1k",
        "FBNetV3-B",
        8.6,
        224,
        79.142,
        256,
    ),
    checkpoint(
        "timm/hardcorenas_a.miil_green_in1k",
        "HardCoReNAS-A",
        5.26,
        224,
        75.93,
        224,
    ),
    checkpoint(
        "timm/lcnet_100.ra2_in1k",
        "PP-LCNet-1.0",
        2.95,
        224,
        72.096,
        224,
    ),
    checkpoint(
        "timm/regnety_002.pycls_in1k",
        "RegNetY-200MF",
        3.16,
        224,
        70.278,
        224,
    ),
    checkpoint(
        "timm/regnety_040.ra3_in1k",
        "RegNetY-4.0GF",
        20.65,
        224,
        83.044,
        288,
    ),
    checkpoint(
        "timm/regnetv_040.ra3_in1k",
        "RegNetV-4.0GF (pre-activation)",
        20.64,
        224,
        83.198,
        288,
    ),
    checkpoint(
        "timm/regnetz_040.ra3_in1k",
        "RegNetZ-4.0GF",
        27.12,
        256,
        84.24,
        320,
    ),
    checkpoint(
        "timm/regnetz_b16.ra3_in1k",
        "RegNetZ-B16",
        9.72,
        224,
        80.728,
        288,
    ),
    checkpoint(
        "timm/regnetz_d8.ra3_in1k",
        "RegNetZ-D8",
        23.37,
        256,
        84.054,
        320,
    ),
    checkpoint(
        "timm/seresnext26ts.ch_in1k",
        "SE-ResNeXt-26-TS",
        10.39,
        256,
        78.272,
        288,
    ),
    checkpoint(
        "timm/seresnet33ts.ra2_in1k",
        "SE-ResNet-33-TS",
        19.78,
        256,
        80.784,
        288,
    ),
    checkpoint(
        "timm/nf_regnet_b1.ra2_in1k",
        "NF-RegNet-B1 (normalization-free)",
        10.22,
        256,
        79.306,
        288,
    ),
    checkpoint(
        "timm/nfnet_l0.ra2_in1k",
        "NFNet-L0",
        35.07,
        224,
        82.752,
        288,
    ),
    checkpoint(
        "timm/cs3sedarknet_l.c2ns_in1k",
        "CS3-SE-DarkNet-L",
        21.91,
        256,
        81.784,
        288,
    ),
    checkpoint(
        "timm/dm_nfnet_f0.dm_in1k",
        "NFNet-F0 (DeepMind's)",
        71.49,
        192,
        83.486,
        256,
    ),
    checkpoint(
        "timm/tresnet_m.miil_in21k_ft_in1k",
        "TResNet-M (ImageNet-21k pretrained)",
        31.39,
        224,
        83.074,
        224,
    ),
    // Parameters and input sizes from timm 1.0.31.
    unranked("timm/mobileone_s4.apple_in1k", "MobileOne-S4", 14.95, 224),
    unranked("timm/repvit_m1_1.dist_450e_in1k", "RepViT-M1.1", 8.8, 224),
    unranked("timm/repghostnet_100.in1k", "RepGhostNet-1.0", 4.07, 224),
    unranked("timm/ghostnetv2_100.in1k", "GhostNet v2-1.0", 6.16, 224),
    // Its download holds the train-time branches that SE Lens sums at load.
    unranked("timm/ghostnetv3_100.in1k", "GhostNet v3-1.0", 8.13, 224),
    unranked(
        "munehiro-k/cspnext_s.rsb_a1_in1k",
        "CSPNeXt-S (RTMDet's backbone)",
        4.89,
        224,
    ),
];

impl Checkpoint {
    /// What the model menu loads: `hf:<id>`.
    pub fn value(&self) -> String {
        format!("hf:{}", self.id)
    }

    /// The timm architecture (the name before its pretrained tag).
    pub fn architecture(&self) -> &'static str {
        let name = self.id.split_once('/').map_or(self.id, |(_, name)| name);
        name.split_once('.').map_or(name, |(arch, _)| arch)
    }

    /// The menu's line: `SE-ResNet-50 · 112 MB · 224² · 81.1% ImageNet top-1 at 288²`.
    pub fn label(&self) -> String {
        let accuracy = match self.top1 {
            None => "not in timm's ImageNet results table".to_owned(),
            Some((top1, at)) if at == self.input => format!("{top1:.1}% ImageNet top-1"),
            Some((top1, at)) => format!("{top1:.1}% ImageNet top-1 at {at}²"),
        };
        format!(
            "{} · {:.0} MB · {}² · {accuracy}",
            self.title,
            self.params_m * 4.0,
            self.input,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_checkpoint_is_an_architecture_se_lens_builds() {
        for checkpoint in CHECKPOINTS {
            assert!(
                crate::model::builds(checkpoint.architecture()),
                "{}",
                checkpoint.id
            );
        }
        assert_eq!(
            CHECKPOINTS[0].label(),
            "SE-ResNet-50 · 112 MB · 224² · 81.1% ImageNet top-1 at 288²"
        );
        assert_eq!(CHECKPOINTS[0].value(), "hf:timm/seresnet50.a1_in1k");
        let cspnext = CHECKPOINTS.iter().find(|c| c.id.starts_with("munehiro-k/"));
        let cspnext = cspnext.expect("CSPNeXt, published outside timm/");
        assert_eq!(cspnext.architecture(), "cspnext_s");
        assert_eq!(
            cspnext.label(),
            "CSPNeXt-S (RTMDet's backbone) · 20 MB · 224² · not in timm's ImageNet results table"
        );
    }

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

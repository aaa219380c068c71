//! Module paths from ONNX node names, so that SE blocks keep the names of the model's code.
//!
//! PyTorch's TorchScript exporter (≥ 1.13) names a node by the modules it ran in, one path
//! component per module, each component the module's qualified name trimmed back to its last
//! non-numeric atom: `/layer3/layer3.2/se/Mul` ran in `layer3` → `layer3.2` → `layer3.2.se`.
//! The dynamo exporter keeps the full paths in the node's `pkg.torch.onnx.name_scopes`
//! metadata instead, followed by the node's own name.

use super::proto::NodeProto;

/// The module path of the module `node` ran in (`layer3.2.se`), if its name or metadata say.
pub fn module_path(node: &NodeProto) -> Option<String> {
    if let Some(scopes) = node
        .metadata_props
        .iter()
        .find(|p| p.key() == "pkg.torch.onnx.name_scopes")
    {
        return module_of_scopes(scopes.value());
    }
    let name = node.name();
    let components: Vec<&str> = name.strip_prefix('/')?.split('/').collect();
    let (_op, scopes) = components.split_last()?;
    let mut path: Vec<&str> = Vec::new();
    for scope in scopes.iter().filter(|s| !s.is_empty()) {
        let atoms: Vec<&str> = scope.split('.').collect();
        // The longest tail of the path this component restates (`layer3` then `layer3.2`).
        let overlap = match atoms.len() > 1 {
            true => (1..=path.len().min(atoms.len()))
                .rev()
                .find(|&m| path[path.len() - m..] == atoms[..m])
                .unwrap_or(0),
            false => 0,
        };
        path.extend(&atoms[overlap..]);
    }
    (!path.is_empty()).then(|| path.join("."))
}

/// The module of a dynamo `name_scopes` list (a Python list's repr): the scopes of the modules
/// the node ran in, outermost first, then the node's own name (`['', 'layer1', 'layer1.0',
/// 'layer1.0.se', 'mul']` → `layer1.0.se`).
fn module_of_scopes(list: &str) -> Option<String> {
    let quoted: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
    let [.., module, _node] = quoted[..] else {
        return None;
    };
    (!module.is_empty()).then(|| module.to_owned())
}

#[cfg(test)]
mod tests {
    use super::module_path;
    use crate::model::onnx::proto::{NodeProto, StringStringEntryProto};

    fn named(name: &str) -> NodeProto {
        NodeProto {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn scoped_names_become_module_paths() {
        let path = |name| module_path(&named(name));
        assert_eq!(
            path("/layer3/layer3.2/se/Mul").as_deref(),
            Some("layer3.2.se")
        );
        assert_eq!(
            path("/blocks/blocks.1/blocks.1.0/se/conv_reduce/Conv").as_deref(),
            Some("blocks.1.0.se.conv_reduce")
        );
        assert_eq!(
            path("/trunk_output/block1/block1-0/f/se/Mul").as_deref(),
            Some("trunk_output.block1.block1-0.f.se")
        );
        assert_eq!(path("/Mul"), None);
        assert_eq!(path("Mul_12"), None);
        let mut dynamo = named("node_mul_3");
        dynamo.metadata_props.push(StringStringEntryProto {
            key: Some("pkg.torch.onnx.name_scopes".into()),
            value: Some("['', 'layer1', 'layer1.0', 'layer1.0.se', 'mul_3']".into()),
        });
        assert_eq!(module_path(&dynamo).as_deref(), Some("layer1.0.se"));
        dynamo.metadata_props[0].value = Some("['', 'cat']".into());
        assert_eq!(module_path(&dynamo), None);
    }
}

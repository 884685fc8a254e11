//! Wire bytes of the generated messages, derived by hand from the field numbers and wire types
//! in the `.proto` files: an independent check of the generator's input and configuration (a
//! tag byte is `(field_number << 3) | wire_type`, 0 = varint, 2 = length-delimited), and of the
//! deterministic map encoding the op digests rely on.

use std::collections::BTreeMap;

use prost::Message;

use super::moby::buildkit::v1::frontend as gw;
use super::pb::*;

#[test]
fn llb_field_numbers() {
    // Op.inputs = 1 (LEN) → 0x0a; Input.digest = 1 (LEN) → 0x0a; Input.index = 2 (VARINT) → 0x10.
    let op = Op {
        inputs: vec![Input {
            digest: "a".into(),
            index: 1,
        }],
        ..Default::default()
    };
    assert_eq!(
        op.encode_to_vec(),
        [0x0a, 0x05, 0x0a, 0x01, b'a', 0x10, 0x01]
    );

    // Op.platform = 10 (LEN) → 0x52; Platform.OS = 2 → 0x12.
    let op = Op {
        platform: Some(Platform {
            os: "linux".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        op.encode_to_vec(),
        [0x52, 0x07, 0x12, 0x05, b'l', b'i', b'n', b'u', b'x']
    );

    // Op.exec = 2 (LEN) → 0x12; ExecOp.meta = 1 (LEN) → 0x0a; Meta.args = 1 → 0x0a.
    let op = Op {
        op: Some(op::Op::Exec(ExecOp {
            meta: Some(Meta {
                args: vec!["x".into()],
                ..Default::default()
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    assert_eq!(
        op.encode_to_vec(),
        [0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'x']
    );

    // Mount.mountType = 6 (VARINT) → 0x30; CACHE = 3.
    let mount = Mount {
        mount_type: MountType::Cache as i32,
        ..Default::default()
    };
    assert_eq!(mount.encode_to_vec(), [0x30, 0x03]);

    // Mount.cacheOpt = 20 (LEN) → (20 << 3 | 2) = 162 → varint 0xa2 0x01;
    // CacheOpt.sharing = 2 (VARINT) → 0x10; LOCKED = 2.
    let mount = Mount {
        cache_opt: Some(CacheOpt {
            id: String::new(),
            sharing: CacheSharingOpt::Locked as i32,
        }),
        ..Default::default()
    };
    assert_eq!(mount.encode_to_vec(), [0xa2, 0x01, 0x02, 0x10, 0x02]);

    // Negative int64 (Mount.input = -1) is a 10-byte varint, not zigzag.
    let mount = Mount {
        input: -1,
        ..Default::default()
    };
    let mut expected = vec![0x08];
    expected.extend([0xff; 9]);
    expected.push(0x01);
    assert_eq!(mount.encode_to_vec(), expected);

    // Op.file = 4 (LEN) → 0x22; FileOp.actions = 2 (LEN) → 0x12;
    // FileAction.mkdir = 6 (LEN) → 0x32; FileActionMkDir.makeParents = 3 → 0x18.
    let op = Op {
        op: Some(op::Op::File(FileOp {
            actions: vec![FileAction {
                action: Some(file_action::Action::Mkdir(FileActionMkDir {
                    make_parents: true,
                    ..Default::default()
                })),
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    assert_eq!(
        op.encode_to_vec(),
        [0x22, 0x06, 0x12, 0x04, 0x32, 0x02, 0x18, 0x01]
    );

    // UserOpt.byID = 2 (VARINT) → 0x10, and a set oneof field is written even when zero.
    let user = UserOpt {
        user: Some(user_opt::User::ById(0)),
    };
    assert_eq!(user.encode_to_vec(), [0x10, 0x00]);

    // Definition.def = 1 (LEN, repeated bytes) → 0x0a; metadata = 2 → 0x12 map entries
    // with key = 1, value = 2; OpMetadata.caps = 5 → 0x2a.
    let def = Definition {
        def: vec![vec![0xff]],
        metadata: BTreeMap::from([(
            "k".to_string(),
            OpMetadata {
                caps: BTreeMap::from([("c".to_string(), true)]),
                ..Default::default()
            },
        )]),
        source: None,
    };
    assert_eq!(
        def.encode_to_vec(),
        [
            0x0a, 0x01, 0xff, // def
            0x12, 0x0c, // metadata entry
            0x0a, 0x01, b'k', // key
            0x12, 0x07, // value: OpMetadata
            0x2a, 0x05, // caps entry
            0x0a, 0x01, b'c', // key
            0x10, 0x01, // value: true
        ]
    );
}

/// Maps are `BTreeMap`s (`btree_map(".")` in the generator), so entries are written in key
/// order whatever order they were inserted in: op digests depend on it.
#[test]
fn maps_encode_in_key_order() {
    let source = |pairs: [(&str, &str); 3]| SourceOp {
        identifier: "local://context".into(),
        attrs: pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let bytes = source([("z", "1"), ("a", "2"), ("m", "3")]).encode_to_vec();
    assert_eq!(
        bytes,
        source([("m", "3"), ("z", "1"), ("a", "2")]).encode_to_vec()
    );
    // SourceOp.attrs = 2 (LEN) → 0x12; each entry: key = 1 → 0x0a, value = 2 → 0x12.
    let entry = |k: u8, v: u8| [0x12, 0x06, 0x0a, 0x01, k, 0x12, 0x01, v];
    let attrs: Vec<u8> = [entry(b'a', b'2'), entry(b'm', b'3'), entry(b'z', b'1')].concat();
    assert!(bytes.ends_with(&attrs), "{bytes:02x?}");
}

#[test]
fn gateway_field_numbers() {
    // Result.ref = 3 (LEN) → 0x1a; Ref.id = 1 → 0x0a.
    let r = gw::Result {
        result: Some(gw::result::Result::Ref(gw::Ref {
            id: "x".into(),
            def: None,
        })),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), [0x1a, 0x03, 0x0a, 0x01, b'x']);

    // Result.metadata = 10 (LEN) → 0x52.
    let r = gw::Result {
        metadata: BTreeMap::from([("k".to_string(), vec![7])]),
        ..Default::default()
    };
    assert_eq!(
        r.encode_to_vec(),
        [0x52, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, 0x07]
    );

    // SolveRequest.Final = 10 (VARINT) → 0x50; Evaluate = 14 → 0x70.
    let s = gw::SolveRequest {
        r#final: true,
        evaluate: true,
        ..Default::default()
    };
    assert_eq!(s.encode_to_vec(), [0x50, 0x01, 0x70, 0x01]);

    // ReadFileRequest.Range = 3 (LEN) → 0x1a; FileRange.Length = 2 → 0x10.
    let f = gw::ReadFileRequest {
        range: Some(gw::FileRange {
            offset: 0,
            length: 5,
        }),
        ..Default::default()
    };
    assert_eq!(f.encode_to_vec(), [0x1a, 0x02, 0x10, 0x05]);

    // Stat.modTime = 6 (VARINT) → 0x30.
    let st = super::fsutil::types::Stat {
        mod_time: 1,
        ..Default::default()
    };
    assert_eq!(st.encode_to_vec(), [0x30, 0x01]);
}

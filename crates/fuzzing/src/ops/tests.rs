use super::*;
use arbitrary::{Arbitrary, Unstructured};

#[test]
fn text_roundtrips_and_defaults_are_omitted() {
    let ops = [
        Op::Alloc { cpu: 1, order: Order(3), mt: Mt::Reclaimable },
        Op::Alloc { cpu: 0, order: Order(0), mt: Mt::Movable },
        Op::DrainAll {},
        Op::GetUnlessZero { cpu: 0, target: Target::Pfn { pfn: 0x1234 } },
        Op::GetUnlessZero { cpu: 2, target: Target::Alloc { a: 3, off: 7 } },
        Op::IsolateRange { block: 1, pb: 5, n: Count(4) },
        Op::AddMemory { block: 2, memmap_on_memory: true },
        Op::MemoryFailure { cpu: 1, target: Target::Huge { h: 2, off: 17 } },
        Op::Unpoison { cpu: 0, target: Target::Poisoned { p: 3 } },
        Op::SoftOffline { cpu: 0, target: Target::Freed { f: 1 } },
        Op::HugetlbPool { cpu: 1, n: Count(3) },
        Op::HugetlbFault {},
        Op::SoftOfflineStep {},
        Op::SoftOfflineBegin { cpu: 1, target: Target::Mapped { m: 2 } },
    ];
    for op in ops {
        let t = op.to_text();
        assert_eq!(Op::parse(&t), Ok(op.clone()), "{t}");
    }
    assert_eq!(Op::Alloc { cpu: 0, order: Order(0), mt: Mt::Movable }.to_text(), "alloc");
    assert_eq!(Op::DrainAll {}.to_text(), "drain_all");
}

#[test]
fn encode_is_the_inverse_of_arbitrary() {
    let mut seed = 3u64;
    let mut n = 0;
    for _ in 0..3000 {
        let data: Vec<u8> = (0..24)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (seed >> 33) as u8
            })
            .collect();
        let mut u = Unstructured::new(&data);
        let Ok(op) = Op::arbitrary(&mut u) else { continue };
        let mut bytes = Vec::new();
        op.encode(&mut bytes);
        let back = Op::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
        assert_eq!(back, op, "{bytes:?}");
        n += 1;
    }
    assert!(n > 2000);
    for o in 0..=mm::geometry::MAX_PAGE_ORDER_LIMIT as u8 {
        let mut b = Vec::new();
        Order(o).encode(&mut b);
        assert_eq!(Order::arbitrary(&mut Unstructured::new(&b)).unwrap(), Order(o));
    }
}

#[test]
fn parse_errors_say_what_was_expected_and_where() {
    let (at, msg) = Op::parse("alloc order=11").unwrap_err();
    assert_eq!(at, "alloc order=".len());
    assert!(msg.contains("order 0..=10"), "{msg}");
    let (at, msg) = Op::parse("allocate").unwrap_err();
    assert_eq!(at, 0);
    assert!(msg.contains("operation name"), "{msg}");
    let (at, msg) = Op::parse("free  bogus=1").unwrap_err();
    assert_eq!(at, 6);
    assert!(msg.contains("one of cpu, a"), "{msg}");
    assert!(Op::parse("drain_all cpu=1").is_err());
    assert!(Op::parse("free a").is_err());
    assert!(Op::parse("").is_err());
}

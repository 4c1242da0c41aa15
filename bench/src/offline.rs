//! The offline fixture: a machine of three 128 MiB sections with the frame
//! store on, in which block 0 (the *target*) is offlined with a chosen
//! number of its pages in use, while blocks 1 and 2 hold the migration
//! targets.
//!
//! Steady state between iterations: the target block is online and
//! entirely free; every page of blocks 1 and 2 is mapped by a "filler" user
//! page; the pcp lists are empty. [`OfflineFixture::prepare`] (untimed)
//! then:
//!
//! 1. faults 32768 user pages: the only free memory is the target block, so
//!    they fill it exactly (each fault allocates the page and writes its
//!    4 KiB pattern, as a first touch would);
//! 2. keeps `k` of them, chosen at random (deterministic seed), and unmaps
//!    the rest: the in-use pages are scattered over the block;
//! 3. unmaps `k` filler pages, so blocks 1–2 have exactly the `k` free pages
//!    the migration needs, and drains the pcp.
//!
//! [`OfflineFixture::offline`] is the timed part: `offline_memory_block`,
//! which isolates the block, migrates the `k` pages (a 4 KiB copy each,
//! into blocks 1–2), takes the free pages off the buddy lists and poisons
//! the block's memmap. [`OfflineFixture::online`] (untimed, or timed by
//! the `online` case) brings the block back, and the `k` migrated pages
//! become filler: the steady state again.
//!
//! Every frame of the machine is faulted in once when the fixture is built,
//! so no timed region ever pays a first-touch fault.

use crate::Rng;
use mm::{Config, Cpu, Error, Geometry, Landed, System, PAGE_SIZE};

const X86: Geometry = Geometry::X86_64;

/// The block that is offlined.
pub const TARGET: u64 = 0;
/// Pages in a block.
pub const BLOCK_PAGES: usize = X86.pages_per_section() as usize;

/// See the module doc.
pub struct OfflineFixture {
    sys: &'static System<Landed>,
    cpu: Cpu<'static, Landed>,
    /// vpns mapped outside the target block.
    filler: Vec<usize>,
    /// vpns mapped inside the target block (the in-use pages of the next offline).
    kept: Vec<usize>,
    /// Unmapped vpns.
    free_vpns: Vec<usize>,
    rng: Rng,
}

fn in_target(pfn: u64) -> bool {
    pfn / X86.pages_per_section() == TARGET
}

impl OfflineFixture {
    /// Boot the machine (3 sections, frame store on, 2 CPUs), fault every
    /// page in once, and settle in the steady state. The machine is leaked:
    /// it lives as long as the benchmark process.
    pub fn new() -> OfflineFixture {
        let cfg = Config {
            mem_bytes: 3 * X86.section_size(),
            max_sections: 4,
            nr_cpus: 2,
            frame_store: true,
            nr_vpages: 4 * BLOCK_PAGES,
            // 32768 in-use pages migrate 512 per pass: leave room for all passes.
            offline_max_passes: 1 << 12,
            ..Config::default()
        };
        let sys: &'static System<Landed> = Box::leak(Box::new(System::new(cfg).expect("boot the offline machine")));
        let cpu = sys.cpu(0).expect("cpu 0");
        let mut fx = OfflineFixture { sys, cpu, filler: Vec::new(), kept: Vec::new(), free_vpns: Vec::new(), rng: Rng::new(0x000f_f11e) };
        // Fault in all of memory: every frame and descriptor gets touched.
        let mut vpn = 0;
        loop {
            match fx.cpu.fault(vpn) {
                Ok(pfn) => {
                    if in_target(pfn) {
                        fx.kept.push(vpn);
                    } else {
                        fx.filler.push(vpn);
                    }
                }
                Err(Error::NoMemory { .. }) => break,
                Err(e) => panic!("pre-fault of vpn {vpn}: {e}"),
            }
            vpn += 1;
        }
        assert_eq!(fx.kept.len(), BLOCK_PAGES, "the target block was not filled");
        fx.free_vpns = (vpn..4 * BLOCK_PAGES).rev().collect();
        for v in std::mem::take(&mut fx.kept) {
            fx.cpu.unmap(v).expect("unmap");
            fx.free_vpns.push(v);
        }
        fx.cpu.drain_local_pages();
        // One whole cycle with every page in use: the offline path and the
        // memmap re-initialization run once before anything is timed.
        fx.prepare(BLOCK_PAGES);
        fx.offline();
        fx.online();
        fx
    }

    /// The machine.
    pub fn system(&self) -> &'static System<Landed> {
        self.sys
    }

    /// The CPU context the fixture acts for.
    pub fn cpu(&self) -> &Cpu<'static, Landed> {
        &self.cpu
    }

    /// Untimed: make `k` random pages of the target block in use (see the
    /// module doc). Returns the block-relative page indices kept in use.
    pub fn prepare(&mut self, k: usize) -> Vec<usize> {
        assert!(k <= BLOCK_PAGES);
        assert!(self.kept.is_empty(), "prepare twice without offline/online");
        if k == 0 {
            self.cpu.drain_local_pages();
            return Vec::new();
        }
        let mut mapped: Vec<(usize, u64)> = Vec::with_capacity(BLOCK_PAGES);
        for _ in 0..BLOCK_PAGES {
            let v = self.free_vpns.pop().expect("out of vpns");
            let pfn = self.cpu.fault(v).expect("fault into the target block");
            assert!(in_target(pfn), "fault at vpn {v} got pfn {pfn:#x} outside the target block: blocks 1-2 were not full");
            mapped.push((v, pfn));
        }
        self.rng.shuffle(&mut mapped);
        for &(v, _) in &mapped[k..] {
            self.cpu.unmap(v).expect("unmap");
            self.free_vpns.push(v);
        }
        // Room for the migration targets.
        for _ in 0..k {
            let i = self.rng.below(self.filler.len() as u64) as usize;
            let v = self.filler.swap_remove(i);
            self.cpu.unmap(v).expect("unmap filler");
            self.free_vpns.push(v);
        }
        self.cpu.drain_local_pages();
        self.kept = mapped[..k].iter().map(|&(v, _)| v).collect();
        mapped[..k].iter().map(|&(_, pfn)| (pfn % X86.pages_per_section()) as usize).collect()
    }

    /// Timed: offline the target block.
    #[inline(never)]
    pub fn offline(&self) {
        self.sys.offline_memory_block(&self.cpu, TARGET).expect("offline the target block");
    }

    /// Bring the target block back online; the pages migrated out of it
    /// become filler.
    #[inline(never)]
    pub fn online(&mut self) {
        self.sys.online_memory_block(TARGET).expect("online the target block");
        self.filler.append(&mut self.kept);
    }

    /// Check that every migrated page kept its contents (frame store) and
    /// that the machine is consistent. Untimed; used by the bench once at
    /// the end of a case and by tests.
    pub fn verify(&self) {
        for &v in &self.filler {
            assert_eq!(self.sys.verify_user_page(v).expect("verify"), Some(true), "vpn {v} lost its contents");
        }
        let bad = self.sys.check();
        assert!(bad.is_empty(), "checker: {}", bad.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "));
    }
}

impl Default for OfflineFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// The reference for an offline with `k` pages in use: `k` 4 KiB copies
/// from a 128 MiB source (pages in the same scattered order) to a 128 MiB
/// destination (filled in order, as the migration fills blocks 1–2). Both
/// buffers are faulted in once when built.
pub struct CopyRef {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl CopyRef {
    pub fn new() -> CopyRef {
        // vec![x; n] of a non-zero byte writes every page: faulted in here.
        CopyRef { src: vec![0x5a; BLOCK_PAGES * PAGE_SIZE], dst: vec![0xa5; BLOCK_PAGES * PAGE_SIZE] }
    }

    /// Untimed: rewrite the whole source, as `prepare` writes every page of
    /// the target block before an offline.
    pub fn prepare(&mut self, gen: u8) {
        self.src.fill(gen);
    }

    /// Timed: copy the pages `idx` (block-relative) to consecutive
    /// destination pages.
    #[inline(never)]
    pub fn copy(&mut self, idx: &[usize]) {
        for (j, &i) in idx.iter().enumerate() {
            let s = &self.src[i * PAGE_SIZE..(i + 1) * PAGE_SIZE];
            self.dst[j * PAGE_SIZE..(j + 1) * PAGE_SIZE].copy_from_slice(s);
        }
        std::hint::black_box(&mut self.dst);
    }

    /// Timed: copy the pages `src[i]` to destination pages `dst[i]`
    /// (block-relative; both scattered, as the migration's targets are).
    #[inline(never)]
    pub fn copy_scattered(&mut self, src: &[usize], dst: &[usize]) {
        for (&i, &j) in src.iter().zip(dst) {
            let s = &self.src[i * PAGE_SIZE..(i + 1) * PAGE_SIZE];
            self.dst[j * PAGE_SIZE..(j + 1) * PAGE_SIZE].copy_from_slice(s);
        }
        std::hint::black_box(&mut self.dst);
    }
}

impl Default for CopyRef {
    fn default() -> Self {
        Self::new()
    }
}

/// The balloon fixture: a machine with one boot block and one hot-added
/// block managed by a virtio-mem device ([`mm::drivers::virtio_mem`]),
/// of which `unplugged` subblocks (512 pages each, 64 per block) are
/// unplugged: PageOffline pages the driver holds a reference on. Nothing is
/// in use, so an offline migrates nothing: at MEM_GOING_OFFLINE the driver
/// drops its references and `offline_pages` skips the PageOffline pages;
/// onlining again keeps the unplugged subblocks fake-offline (the driver's
/// `online_page` callback), so offline/online cycles repeat the same state.
pub struct BalloonFixture {
    sys: &'static System<Landed>,
    cpu: Cpu<'static, Landed>,
    /// The block the device manages (the one offlined).
    pub block: u64,
}

impl BalloonFixture {
    /// `unplugged` subblocks, spread evenly over the block.
    pub fn new(unplugged: u64) -> BalloonFixture {
        use mm::drivers::virtio_mem::VirtioMem;
        assert!(unplugged <= X86.pageblocks_per_section());
        let cfg = Config { mem_bytes: X86.section_size(), max_sections: 2, nr_cpus: 2, ..Config::default() };
        let sys: &'static System<Landed> = Box::leak(Box::new(System::new(cfg).expect("boot the balloon machine")));
        let cpu = sys.cpu(0).expect("cpu 0");
        let block = 1;
        let vm = std::sync::Arc::new(VirtioMem::new(&X86, block, 1));
        sys.register_memory_notifier(vm.clone());
        sys.add_memory(block, false).expect("hot-add the device block");
        for sb in 0..X86.pageblocks_per_section() {
            vm.plug(&cpu, sb).expect("plug");
        }
        sys.online_memory_block(block).expect("online the device block");
        for i in 0..unplugged {
            // Evenly spread: subblock i * 64 / unplugged.
            vm.unplug(&cpu, i * X86.pageblocks_per_section() / unplugged).expect("unplug a subblock");
        }
        cpu.drain_local_pages();
        let fx = BalloonFixture { sys, cpu, block };
        fx.offline();
        fx.online();
        fx
    }

    /// Timed: offline the device block.
    #[inline(never)]
    pub fn offline(&self) {
        self.sys.offline_memory_block(&self.cpu, self.block).expect("offline the device block");
    }

    /// Online it again (the unplugged subblocks stay PageOffline).
    #[inline(never)]
    pub fn online(&self) {
        self.sys.online_memory_block(self.block).expect("online the device block");
    }

    /// The checker (drivers' invariants included) finds nothing.
    pub fn verify(&self) {
        let bad = self.sys.check();
        assert!(bad.is_empty(), "checker: {}", bad.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "));
    }
}

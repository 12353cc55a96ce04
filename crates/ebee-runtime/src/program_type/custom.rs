//! Host-defined program types: the embedder declares its context (size,
//! fields with offsets, sizes and read/write rights, in the verifier's
//! [`ContextLayout`] shape so verification can use the same description)
//! and the helpers it allows, then runs programs at its own hook. A type
//! may also describe its context in BTF ([`CustomType::with_btf`]) so
//! CO-RE programs resolve their field accesses against it.

use crate::error::ExecError;
use crate::helper::HelperRegistry;
use crate::region::Region;
use crate::vm::{Invocation, Vm};
use ebee_object::btf::Btf;
use ebee_verifier::{Access, ContextLayout, CtxField};

/// A program type the embedder defines.
#[derive(Debug, Clone)]
pub struct CustomType {
    /// The context layout (what `r1` points to).
    pub layout: ContextLayout,
    /// The helpers programs of this type may call.
    pub helpers: HelperRegistry,
    /// The context's types in BTF, the target of CO-RE relocations of
    /// programs of this type (`None`: the type declares none).
    pub btf: Option<Btf>,
}

/// Why a run of a host-defined type failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomError {
    /// The context buffer is not the layout's size.
    #[error("context of {got} bytes, the layout `{name}` has {want}")]
    ContextSize {
        /// The layout's name.
        name: &'static str,
        /// The layout's size.
        want: u32,
        /// The buffer's size.
        got: usize,
    },
    /// The program failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl CustomType {
    /// A type with this layout and helpers.
    pub fn new(layout: ContextLayout, helpers: HelperRegistry) -> CustomType {
        CustomType {
            layout,
            helpers,
            btf: None,
        }
    }

    /// Declares the context's types (build them with
    /// [`ebee_object::btf::BtfBuilder`]): CO-RE relocations of programs of
    /// this type resolve against them, given to the loader with
    /// [`crate::loader::LoadOptions::custom_type`].
    pub fn with_btf(mut self, btf: Btf) -> CustomType {
        self.btf = Some(btf);
        self
    }

    /// Prepares `vm` for this type: its helpers become exactly the type's.
    pub fn prepare(&self, mut vm: Vm) -> Vm {
        vm.set_helpers(self.helpers.clone());
        vm
    }

    /// The field at byte `off`, if any.
    pub fn field_at(&self, off: u32) -> Option<&CtxField> {
        self.layout
            .fields
            .iter()
            .find(|f| off >= f.offset && off < f.offset + f.size)
    }

    /// Runs `vm` with `r1` = `ctx` in checked mode. The context is
    /// writable memory during the run; afterwards every byte of a field
    /// the layout does not let programs write (and every byte outside the
    /// fields) is restored, so a program can only change what the type
    /// allows, verified or not.
    pub fn run(&self, vm: &Vm, ctx: &mut [u8]) -> Result<u64, CustomError> {
        if ctx.len() != self.layout.size as usize {
            return Err(CustomError::ContextSize {
                name: self.layout.name,
                want: self.layout.size,
                got: ctx.len(),
            });
        }
        let before = ctx.to_vec();
        let region = Region::new(ctx.as_mut_ptr() as u64, ctx.len() as u64, true, "context");
        let mut inv = Invocation::new([region.start, 0, 0, 0, 0]);
        // SAFETY: `ctx` is borrowed mutably for the whole run and not
        // touched by Rust code meanwhile.
        unsafe { inv.set_input(region) };
        let r = vm.run_with(&inv);
        for (i, b) in ctx.iter_mut().enumerate() {
            let writable = self
                .field_at(i as u32)
                .is_some_and(|f| f.write != Access::Denied);
            if !writable {
                *b = before[i];
            }
        }
        Ok(r?)
    }
}

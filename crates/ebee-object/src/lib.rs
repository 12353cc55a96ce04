//! EBPF ELF objects: programs, maps, globals, relocations, BTF, BTF.ext, CO-RE.

#![warn(missing_docs)]

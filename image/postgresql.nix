# PostgreSQL for the image: musl, dynamically linked, without JIT/LLVM and without the language
# and authentication integrations the image does not use.
{ postgresql }:
postgresql.override {
  jitSupport = false;
  systemdSupport = false;
  gssSupport = false;
  pythonSupport = false;
  perlSupport = false;
  tclSupport = false;
  ldapSupport = false;
  pamSupport = false;
}

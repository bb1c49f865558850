// The migrations are embedded at compile time (`refinery::embed_migrations!`);
// without this, a migration added to the folder would not rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

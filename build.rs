// The migrations are embedded by `sqlx::migrate!`, which cargo does not
// track: a new or edited migration file rebuilds the crate through this.
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}

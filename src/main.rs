//! The `supplyline` command line: parses arguments, loads config, calls into
//! the library, prints an error chain once.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use supplyline::config::Config;
use supplyline::outbox::kinds::ReplyKind;
use supplyline::state::{MessageState, OfferStatus, Role};
use supplyline::store::Engine;
use supplyline::values::{EmailAddress, OfferRef};
use supplyline::{
    config, daemon, decide, demo, error_text, fetch, files, import, mail, migrate_db, outbox,
    rules, web,
};

/// Keeps large buffers out of glibc's heap arenas: a 20 MiB message body is
/// mmapped and handed back to the system when freed, instead of raising the
/// dynamic mmap threshold and staying resident in one arena per thread
/// (which doubled the peak RSS of draining big attachments).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called once at
    // start, before any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Restores the default SIGPIPE action (Rust ignores it, so printing into a
/// closed pipe panics). Only for the listing commands: a server must not die
/// of a peer closing its socket.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: resetting a signal disposition to its default, once, before
    // any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

#[derive(Parser)]
#[command(
    name = "supplyline",
    version,
    about = "Turns a donations mailbox into a triage queue"
)]
struct Cli {
    /// The config file (see examples/supplyline.toml).
    #[arg(long, global = true, default_value = "supplyline.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run fetch, process and send until SIGINT or SIGTERM.
    Serve,
    /// Check the config file and report every problem found.
    CheckConfig,
    /// Check what this installation's files need: the database (opens,
    /// migrations run), the rules and templates (load), and that no data
    /// file is readable by other local users. Each check is printed with a
    /// fix; the exit status is 0 only when all pass.
    Doctor,
    /// Run the whole flow on a bundled sample mailbox, with replies written to a folder.
    Demo {
        /// Where the demo keeps its database and replies (cleared first).
        #[arg(long, default_value = "supplyline-demo")]
        dir: PathBuf,
        /// Where the demo's web UI listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Print the report and exit, without the web UI.
        #[arg(long)]
        no_web: bool,
    },
    /// Print what the rules find in one message.
    Extract {
        /// Print the JSON of the extraction contract.
        #[arg(long)]
        json: bool,
        /// Show, for each item and field, the text span and the rule that produced it.
        #[arg(long)]
        explain: bool,
        /// A rules folder to use instead of the configured or built-in rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        file: PathBuf,
    },
    /// Check the extraction rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Look at the offer queue.
    Offers {
        #[command(subcommand)]
        command: OffersCommand,
    },
    /// Look at stored messages and retry failed ones.
    Messages {
        #[command(subcommand)]
        command: MessagesCommand,
    },
    /// Manage the staff accounts of the web UI.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Import old mail: an mbox file, a Maildir or a folder of .eml files
    /// (PATH), or another folder of the configured IMAP account. Each
    /// message is stored once (with live intake too), processed and never
    /// answered; an interrupted import resumes where it stopped.
    Import {
        #[arg(required_unless_present = "imap_folder")]
        path: Option<PathBuf>,
        /// A folder of the [imap] account, read without changing it.
        #[arg(long, conflicts_with = "path")]
        imap_folder: Option<String>,
    },
    /// Copy this installation from SQLite into an empty PostgreSQL database
    /// (README: "Moving from SQLite to PostgreSQL"). Stop `serve` first. A
    /// run that was interrupted is run again and continues where it
    /// stopped; the end compares row counts and a checksum of the raw
    /// messages, and fails naming any table that differs.
    MigrateDb {
        /// The SQLite database, sqlite://PATH.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database, postgres://…, empty or an earlier run's copy.
        #[arg(long)]
        to: String,
        /// Rows per batch (one transaction each).
        #[arg(long, default_value_t = migrate_db::DEFAULT_BATCH_ROWS,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        batch: usize,
    },
    /// Check and preview the reply templates (see templates/README.md).
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// OAuth2 for IMAP and SMTP (README: "Connect to Microsoft 365 / Gmail").
    Oauth {
        #[command(subcommand)]
        command: OauthCommand,
    },
}

#[derive(Subcommand)]
enum OauthCommand {
    /// Sign in once and store the refresh token in oauth2.refresh_token_file:
    /// by default a URL and a code to enter in any browser (device code;
    /// Microsoft, generic), with --browser a sign-in redirected to a port on
    /// 127.0.0.1 (Google's way).
    Login {
        /// Sign in with a redirect to 127.0.0.1 instead of a device code
        /// (the default for provider = "google").
        #[arg(long)]
        browser: bool,
        /// Use the device code even for Google.
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// The port on 127.0.0.1 the browser is sent back to.
        #[arg(long, default_value_t = 8765)]
        port: u16,
    },
    /// Ask the provider for an access token now, as `serve` will.
    Check,
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Load every reply template and render it with sample values: ok, or FILE:LINE and why.
    Check,
    /// Print the whole message a reply of KIND to an offer would be, as it would be sent.
    Preview {
        /// The kind of reply.
        kind: ReplyKind,
        /// The offer: SL-000042, or its id 42.
        #[arg(long)]
        offer: OfferRef,
        /// The language to render in, instead of the donor's (falls back to en).
        #[arg(long)]
        lang: Option<String>,
        /// A template value instead of the offer's own or the sample, as KEY=VALUE; repeatable.
        #[arg(long = "set", value_parser = key_value)]
        set: Vec<(String, String)>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Run every rule file's examples: ok, or FILE:LINE [rule] and what differed.
    Test {
        /// A rules folder to use instead of the configured or built-in rules.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add an account (or reset its password and role, and enable it). The
    /// password is read from --password-file, else asked for without echo
    /// on a terminal, else read from the first line of standard input. At
    /// least 12 characters for admins, 10 for others.
    Add {
        email: String,
        /// viewer (reads), triager (decides offers) or admin (also retries failed messages).
        #[arg(long, value_enum, default_value_t = Role::Triager)]
        role: Role,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the accounts.
    List,
    /// Disable an account: it cannot log in and its sessions end.
    Disable { email: String },
    /// Remove an account; its sessions end (notes and history keep its email).
    Remove { email: String },
}

#[derive(Subcommand)]
enum OffersCommand {
    /// List offers, newest first.
    List {
        #[arg(long, value_enum)]
        status: Option<OfferStatus>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one offer (SL-000042, or its id 42): items, contact, messages, replies, history.
    Show { offer: OfferRef },
    /// Accept an offer into a slot of a site, as the desk does, and queue
    /// the email with its calendar invite; the first free slot unless
    /// --slot or --window says another.
    Accept {
        offer: OfferRef,
        /// A pickup site of the operators' file, by name.
        #[arg(long)]
        site: String,
        /// The one-hour slot starting then, in the site's own time (2026-12-04T10:00).
        #[arg(long, conflicts_with = "window")]
        slot: Option<String>,
        /// A longer window, a date and times in the site's own time ("2026-12-04 10:00-12:00").
        #[arg(long)]
        window: Option<String>,
        /// Pick up at the donor's address instead of a drop-off at the site.
        #[arg(long, value_name = "ADDRESS")]
        pickup_at: Option<String>,
        /// Book even when the slot is full.
        #[arg(long)]
        overbook: bool,
        /// Notes for the donor instead of the site's own.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Decline an offer and queue the decline email with the reason.
    Decline {
        offer: OfferRef,
        #[arg(long)]
        reason: String,
        /// Decline without emailing the donor.
        #[arg(long)]
        no_email: bool,
    },
    /// Mark an offer as spam; nothing is sent.
    Spam { offer: OfferRef },
    /// Merge a duplicate into another offer; nothing is sent.
    Merge {
        offer: OfferRef,
        #[arg(long)]
        into: OfferRef,
    },
}

#[derive(Subcommand)]
enum MessagesCommand {
    /// List messages, newest first.
    List {
        /// Only messages in this state.
        #[arg(long, value_enum)]
        state: Option<MessageState>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Print one message's raw bytes.
    Show { id: i64 },
    /// Put a failed message back in the queue.
    Retry { id: i64 },
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve | Command::Demo { .. }) {
        // `supplyline offers list | head` ends quietly, like other tools.
        default_sigpipe();
    }
    // The demo prints its own report; its log stays quiet unless asked.
    let default_level = if matches!(cli.command, Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    // A config that does not load is reported by the command itself.
    let log_format = Config::load(&cli.config, false)
        .map(|c| c.log.format)
        .unwrap_or_default();
    supplyline::telemetry::init_logs(log_format, default_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let config = Config::load(&cli.config, true)?;
            daemon::serve(config, daemon::shutdown_on_signals()).await
        }
        Command::CheckConfig => check_config(&cli.config).await,
        Command::Doctor => doctor(&cli.config).await,
        Command::Demo {
            dir,
            listen,
            no_web,
        } => {
            let listen = (!no_web).then_some(listen);
            demo::run_and_serve(&dir, listen, daemon::shutdown_on_signals()).await
        }
        Command::Extract {
            json,
            explain,
            rules,
            file,
        } => {
            let config = Config::load(&cli.config, false)?;
            extract(&config, &file, rules.as_deref(), json, explain)
        }
        Command::Rules {
            command: RulesCommand::Test { rules },
        } => rules_test(&Config::load(&cli.config, false)?, rules.as_deref()),
        Command::Offers { command } => offers(&Config::load(&cli.config, false)?, command).await,
        Command::Messages { command } => {
            messages(&Config::load(&cli.config, false)?, command).await
        }
        Command::Import { path, imap_folder } => {
            let config = Config::load(&cli.config, false)?;
            let source = match (path, imap_folder) {
                (_, Some(folder)) => import::Source::ImapFolder(folder),
                (Some(path), None) => import::Source::from_path(&path)?,
                (None, None) => anyhow::bail!("name a PATH or --imap-folder NAME"),
            };
            let report = import::run(&config, &source, daemon::shutdown_on_signals()).await?;
            println!("{}", import::summary(&source, &report));
            if report.interrupted {
                anyhow::bail!("import interrupted");
            }
            Ok(())
        }
        Command::MigrateDb { from, to, batch } => {
            let options = migrate_db::Options {
                from,
                to,
                batch_rows: batch,
            };
            migrate_db::run(&options).await
        }
        Command::Users { command } => users(&Config::load(&cli.config, false)?, command).await,
        Command::Templates { command } => {
            templates(&Config::load(&cli.config, false)?, command).await
        }
        Command::Oauth { command } => oauth(&Config::load(&cli.config, true)?, command).await,
    }
}

async fn oauth(config: &Config, command: OauthCommand) -> anyhow::Result<()> {
    let settings = config.oauth2.as_ref().context(
        "no [oauth2] section in the config (see the README, \"Connect to Microsoft 365 / Gmail\")",
    )?;
    match command {
        OauthCommand::Login {
            browser,
            device,
            port,
        } => {
            use supplyline::oauth::{login, Provider};
            let out = &mut std::io::stdout();
            if browser || (settings.provider == Provider::Google && !device) {
                login::browser_login(settings, port, out).await?
            } else {
                login::device_login(settings, out).await?
            }
        }
        OauthCommand::Check => {
            supplyline::oauth::TokenSource::new(settings.clone())
                .access_token()
                .await?;
            println!("ok: the token endpoint gave an access token");
        }
    }
    Ok(())
}

async fn templates(config: &Config, command: TemplatesCommand) -> anyhow::Result<()> {
    let composer = daemon::load_composer(config)?;
    match command {
        TemplatesCommand::Check => {
            let names = composer.template_names();
            let dir = config.templates.dir.as_deref().map(Path::display);
            let place = dir.map_or("built-in".to_string(), |d| d.to_string());
            println!("{} reply templates ({place}): ok", names.len());
        }
        TemplatesCommand::Preview {
            kind,
            offer,
            lang,
            set,
        } => {
            use std::io::Write;
            let store = daemon::open_store(config).await?;
            let reply = outbox::preview::preview(
                &store,
                &composer,
                kind,
                offer.id(),
                lang.as_deref(),
                &set,
            )
            .await?;
            std::io::stdout().write_all(&reply.raw)?;
        }
    }
    Ok(())
}

/// Reads `KEY=VALUE`.
fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

async fn users(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let (email, disable) = match command {
        UsersCommand::Add {
            email,
            role,
            password_file,
        } => return add_user(config, &email, role, password_file.as_deref()).await,
        UsersCommand::List => {
            let store = daemon::open_store(config).await?;
            for u in store.list_users().await? {
                let state = if u.disabled { "disabled" } else { "enabled" };
                println!("{:<40} {:<8} {state}", u.email, u.role);
            }
            return Ok(());
        }
        UsersCommand::Disable { email } => (email, true),
        UsersCommand::Remove { email } => (email, false),
    };
    let email = email.trim().to_lowercase();
    let store = daemon::open_store(config).await?;
    let (done, what) = if disable {
        (store.disable_user(&email).await?, "disabled")
    } else {
        (store.remove_user(&email).await?, "removed")
    };
    anyhow::ensure!(
        done,
        "no {} account {email:?}",
        if disable { "enabled" } else { "such" }
    );
    println!("{what} {email}; its sessions have ended");
    Ok(())
}

async fn add_user(
    config: &Config,
    email: &str,
    role: Role,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    let email: EmailAddress = email.trim().to_lowercase().parse()?;
    let password = read_password(password_file)?;
    let password = password.trim_end_matches(['\r', '\n']);
    web::auth::check_password_length(password, role).map_err(anyhow::Error::msg)?;
    let hash = web::auth::hash_password(password)?;
    let store = daemon::open_store(config).await?;
    let created = store.upsert_user(email.as_str(), &hash, role).await?;
    println!(
        "{} {email} as {role}",
        if created { "added" } else { "updated" }
    );
    Ok(())
}

/// The new password: from `file`, else asked for without echo on a
/// terminal, else the first line of standard input.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()));
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return rpassword::prompt_password("Password: ").context("reading the password");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line)
}

/// `supplyline doctor`: each check on a line, `ok` or `FAIL` with its fix.
async fn doctor(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path, true)?;
    let checks = supplyline::doctor::run(&config).await;
    for check in &checks {
        println!("{}", check.line());
    }
    let failed = checks
        .iter()
        .filter(|c| matches!(c.verdict, supplyline::doctor::Verdict::Fail(_)))
        .count();
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
}

async fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path, true)?;
    daemon::load_rules(&config)?;
    daemon::load_composer(&config)?;
    daemon::transport(&config)?;
    if let Some(needs) = config.web.as_ref().and_then(|w| w.needs_file.as_deref()) {
        web::operations::check_file(needs, &daemon::load_catalog(&config)?)?;
    }
    if let Some(line) = daemon::postgres_tls_line(&config) {
        println!("{}: {line}", path.display());
    }
    if config.imap.is_none() {
        println!(
            "{}: warning: no [imap] section; `serve` will fetch nothing",
            path.display()
        );
    }
    if let Some(imap) = &config.imap {
        println!(
            "{}: {}",
            path.display(),
            first_start_preview(&config, imap).await
        );
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// What the first start will do with mail already in the mailbox, or why
/// it cannot be told (the mailbox could not be read: a warning, not a failure).
async fn first_start_preview(config: &Config, imap: &config::ImapConfig) -> String {
    // An existing database knows whether the mailbox was read; no SQLite
    // file is created here. A PostgreSQL database exists on its server
    // (opening it brings its schema up to date, as `serve` would).
    let exists = match files::sqlite_file(&config.database.url) {
        Some(file) => file.exists(),
        None => Engine::of_url(&config.database.url) == Some(Engine::Postgres),
    };
    let store = match exists {
        true => daemon::open_store(config).await.ok(),
        false => None,
    };
    match fetch::first_start::preview(store.as_ref(), imap).await {
        Ok(line) => line,
        Err(e) => format!(
            "warning: cannot read {} to tell what the first start will do: {}",
            imap.mailbox,
            error_text::error_text(&e)
        ),
    }
}

fn extract(
    config: &Config,
    file: &Path,
    rules_dir: Option<&Path>,
    json: bool,
    explain: bool,
) -> anyhow::Result<()> {
    let rules = load_rules(config, rules_dir)?;
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let msg = mail::parse(&raw).with_context(|| format!("parsing {}", file.display()))?;
    let extraction = rules.extract(&msg);
    if json {
        let catalog = match rules_dir {
            Some(dir) => rules::catalog::Catalog::load_dir(dir)?,
            None => daemon::load_catalog(config)?,
        };
        let json = catalog.extraction_json(&extraction);
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", rules.explain_full(&msg, &extraction, explain));
    }
    Ok(())
}

/// The rules of `--rules DIR`, else the configured or built-in ones.
fn load_rules(config: &Config, rules_dir: Option<&Path>) -> anyhow::Result<rules::Rules> {
    Ok(match rules_dir {
        Some(dir) => {
            rules::Rules::load_dir(dir)?.trusting_spam_headers(config.donations.trust_spam_headers)
        }
        None => daemon::load_rules(config)?,
    })
}

/// `supplyline rules test`: prints each failing example, fails if any.
fn rules_test(config: &Config, rules_dir: Option<&Path>) -> anyhow::Result<()> {
    let failures = rules::self_test(&load_rules(config, rules_dir)?);
    for f in &failures {
        println!("{f}");
    }
    if !failures.is_empty() {
        anyhow::bail!("{} rule example(s) failed", failures.len());
    }
    let names = match rules_dir.or(config.rules.dir.as_deref()) {
        Some(dir) => rules::ReplyNames::load_dir(dir)?,
        None => rules::ReplyNames::embedded()?,
    };
    for lang in outbox::templates::built_in_languages() {
        let unnamed = names.items_unnamed_in(lang);
        if !unnamed.is_empty() {
            println!(
                "note: no {lang} name for {}: replies in {lang} use the English name",
                unnamed.join(", ")
            );
        }
    }
    println!("rules: ok");
    Ok(())
}

async fn offers(config: &Config, command: OffersCommand) -> anyhow::Result<()> {
    let store = daemon::open_store(config).await?;
    match command {
        OffersCommand::List { status, limit } => {
            for o in store.list_offers(status, limit).await? {
                let items = store.offer_items(o.id).await?;
                println!(
                    "{}  {:<8} {:<9} {:<40} {} item line(s)  {}",
                    o.reference,
                    o.status,
                    o.category,
                    o.donor_email,
                    items.len(),
                    o.subject.chars().take(60).collect::<String>()
                );
            }
        }
        OffersCommand::Show { offer } => {
            let detail = store.offer(offer.id()).await?;
            println!("{}", serde_json::to_string_pretty(&detail)?);
        }
        decision => decide_offer(config, &store, decision).await?,
    }
    Ok(())
}

/// The decisions of `offers`: made as the operator (`cli:<user>` in the
/// audit rows), with the donor's email queued as the desk would.
async fn decide_offer(
    config: &Config,
    store: &supplyline::store::Store,
    command: OffersCommand,
) -> anyhow::Result<()> {
    let composer = daemon::load_composer(config)?;
    let actor = match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_string(),
    };
    let desk = decide::Desk {
        store,
        composer: &composer,
        actor: &actor,
    };
    let (offer, done) = match command {
        OffersCommand::Accept {
            offer,
            site,
            slot,
            window,
            pickup_at,
            overbook,
            notes,
        } => {
            let args = supplyline::slots::command::AcceptArgs {
                site,
                slot,
                window,
                pickup_at,
                notes,
                overbook,
            };
            let now = supplyline::slots::now();
            let booked = supplyline::slots::command::accept(desk, offer, &args, now).await?;
            (offer, format!("scheduled: {booked}; the email is queued"))
        }
        OffersCommand::Decline {
            offer,
            reason,
            no_email,
        } => {
            decide::decline(desk, offer, reason.trim(), !no_email).await?;
            let email = if no_email {
                ""
            } else {
                "; the decline email is queued"
            };
            (offer, format!("declined{email}"))
        }
        OffersCommand::Spam { offer } => {
            decide::spam(desk, offer).await?;
            (offer, "marked as spam".to_string())
        }
        OffersCommand::Merge { offer, into } => {
            decide::merge(desk, offer, into).await?;
            (offer, format!("merged into {into}"))
        }
        OffersCommand::List { .. } | OffersCommand::Show { .. } => return Ok(()),
    };
    println!("{offer} {done}");
    Ok(())
}

async fn messages(config: &Config, command: MessagesCommand) -> anyhow::Result<()> {
    let store = daemon::open_store(config).await?;
    match command {
        MessagesCommand::List { state, limit } => {
            for m in store.list_messages(state, limit).await? {
                println!(
                    "{:>6}  {:<10} {:<10} {:<40} {}{}",
                    m.id,
                    m.state,
                    m.category.as_deref().unwrap_or("-"),
                    m.from_address.as_deref().unwrap_or("-"),
                    m.subject.as_deref().unwrap_or(""),
                    m.error.map(|e| format!("  [{e}]")).unwrap_or_default()
                );
            }
        }
        MessagesCommand::Show { id } => {
            use std::io::Write;
            std::io::stdout().write_all(&store.message_raw(id).await?)?;
        }
        MessagesCommand::Retry { id } => {
            if store.retry_message(id, "cli").await? {
                println!("message {id} is queued again; `serve` will process it");
            } else {
                anyhow::bail!("message {id} is not in state failed");
            }
        }
    }
    Ok(())
}

//! `supplyline oauth login`: the OAuth2 device-code flow (RFC 8628), which
//! works on a headless server. It prints a URL and a code for the person
//! who owns the mailbox (or an administrator) to enter in any browser,
//! polls the token endpoint until they have agreed, and stores the refresh
//! token in `oauth2.refresh_token_file`, created with mode 0600.
//!
//! Owns: the flow and writing the refresh token file. The running `serve`
//! picks up a new file at its next token request, without a restart.

use std::io::Write;
use std::path::Path;

use oauth2::{DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse};

use super::settings::{Grant, OAuthSettings};
use super::token::{http_client, refused, token_client};
use super::OAuthError;

/// Runs the device-code flow, telling the operator what to do on `out`;
/// returns once the refresh token is stored.
pub async fn device_login(settings: &OAuthSettings, out: &mut dyn Write) -> Result<(), OAuthError> {
    if settings.grant != Grant::RefreshToken {
        return Err(OAuthError::Config {
            key: "oauth2.grant",
            what: "`oauth login` gets a refresh token; grant = \"client_credentials\" needs none"
                .into(),
        });
    }
    let path = settings
        .refresh_token_file
        .as_deref()
        .ok_or(OAuthError::Config {
            key: "oauth2.refresh_token_file",
            what: "not set: where should the refresh token go?".into(),
        })?;
    let device_url = settings.device_url().ok_or(OAuthError::Config {
        key: "oauth2.device_url",
        what: "provider = \"generic\" needs the device authorization endpoint for `oauth login`"
            .into(),
    })?;
    let url = DeviceAuthorizationUrl::new(device_url.clone()).map_err(|e| OAuthError::Config {
        key: "oauth2.device_url",
        what: e.to_string(),
    })?;
    let client = token_client(settings)?.set_device_authorization_url(url);
    let http = http_client(settings)?;
    let scopes = settings.scopes().into_iter().map(Scope::new);
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(scopes)
        .request_async(&http)
        .await
        .map_err(|e| refused(e, &device_url, "device authorization", None))?;
    let say = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    };
    say(
        out,
        format!(
            "To let supplyline use the mailbox, open {} in a browser and enter the code {}\n\
             (signed in as the mailbox's user; the code is valid for {} minutes).",
            details.verification_uri().as_str(),
            details.user_code().secret(),
            details.expires_in().as_secs().div_ceil(60),
        ),
    );
    if let Some(complete) = details.verification_uri_complete() {
        say(out, format!("Or open {} directly.", complete.secret()));
    }
    say(out, "Waiting for the sign-in…".into());
    let token_url = client.token_uri().to_string();
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| refused(e, &token_url, "device code", None))?;
    let refresh = token.refresh_token().ok_or(OAuthError::BadAnswer {
        url: token_url,
        what: "no refresh token in the answer (Microsoft gives one only with the scope offline_access)".into(),
    })?;
    write_refresh_token(path, refresh.secret()).map_err(|source| OAuthError::File {
        key: "oauth2.refresh_token_file",
        path: path.to_path_buf(),
        source,
    })?;
    say(
        out,
        format!(
            "Signed in. The refresh token is stored in {} (mode 0600).",
            path.display()
        ),
    );
    Ok(())
}

/// Replaces `path` with `token`: written to a new 0600 file beside it,
/// synced, then renamed over, so a reader sees the old token or the new.
pub fn write_refresh_token(path: &Path, token: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_token_file_is_0600_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_refresh_token(&path, "new-token").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new-token\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

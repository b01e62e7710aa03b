/* dispatch-smtp-auth.c — SASL client mechanisms for SMTP AUTH: PLAIN, LOGIN, CRAM-MD5, XOAUTH2.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "dispatch-error.h"
#include "dispatch-smtp-auth.h"

typedef enum
{
  MECHANISM_XOAUTH2,
  MECHANISM_PLAIN,
  MECHANISM_LOGIN,
  MECHANISM_CRAM_MD5,
} Mechanism;

/* Indexed by Mechanism. */
static const char * const supported_mechanisms[] = {
  "XOAUTH2",
  "PLAIN",
  "LOGIN",
  "CRAM-MD5",
  NULL
};

/* Preference when the user did not choose. Over TLS the simplest mechanism wins: PLAIN says
 * everything in one round trip. In clear, CRAM-MD5 goes first because it never sends the password
 * itself, only a keyed digest of the server's challenge. XOAUTH2 is chosen separately, since it
 * takes a token where the others take a password. */
static const Mechanism preference_encrypted[] = { MECHANISM_PLAIN, MECHANISM_LOGIN, MECHANISM_CRAM_MD5 };
static const Mechanism preference_clear[] = { MECHANISM_CRAM_MD5, MECHANISM_PLAIN, MECHANISM_LOGIN };

struct _DispatchSmtpAuth
{
  Mechanism  mechanism;
  /* Responses given so far, the initial response included; each mechanism allows a fixed number. */
  guint      step;

  /* Owned; wiped before they are freed. */
  char      *user;
  char      *secret;

  /* Owned: XOAUTH2's decoded error challenge. */
  char      *server_error;
};

/* A memset() right before free() is a dead store the compiler may remove; stores through a
 * volatile pointer must be performed. */
static void
wipe_memory (gpointer data,
             gsize    length)
{
  volatile guchar *bytes = data;

  while (length-- > 0)
    *bytes++ = 0;
}

void
dispatch_smtp_auth_wipe_string (char *string)
{
  if (string == NULL)
    return;

  wipe_memory (string, strlen (string));
  g_free (string);
}

static int
lookup_mechanism (const char *name)
{
  if (name == NULL)
    return -1;

  for (guint i = 0; supported_mechanisms[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (supported_mechanisms[i], name) == 0)
        return (int) i;
    }

  return -1;
}

const char * const *
dispatch_smtp_auth_get_supported (void)
{
  return supported_mechanisms;
}

gboolean
dispatch_smtp_auth_is_supported (const char *mechanism)
{
  return lookup_mechanism (mechanism) >= 0;
}

static gboolean
is_advertised (const char * const *advertised,
               Mechanism           mechanism)
{
  if (advertised == NULL)
    return FALSE;

  for (guint i = 0; advertised[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (advertised[i], supported_mechanisms[mechanism]) == 0)
        return TRUE;
    }

  return FALSE;
}

static gboolean
advertises_nothing (const char * const *advertised)
{
  return advertised == NULL || advertised[0] == NULL;
}

/* Servers commonly keep AUTH back until the connection is encrypted, which is worth saying when
 * the user picked a clear connection. */
static const char *
no_auth_hint (gboolean encrypted)
{
  if (encrypted)
    return NULL;

  return _("Many servers offer authentication only on an encrypted connection: try the STARTTLS or TLS security setting.");
}

const char *
dispatch_smtp_auth_choose (const char * const  *advertised,
                           const char          *requested,
                           gboolean             have_oauth2_token,
                           gboolean             encrypted,
                           GError             **error)
{
  g_autofree char *offered = NULL;
  const Mechanism *preference;
  gsize n_preference;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!advertises_nothing (advertised))
    offered = g_strjoinv (", ", (char **) advertised);

  if (requested != NULL && *requested != '\0')
    {
      int mechanism = lookup_mechanism (requested);

      if (mechanism < 0)
        {
          g_autofree char *ours = g_strjoinv (", ", (char **) supported_mechanisms);
          g_autofree char *hint = g_strdup_printf (_("Choose one of %s in the account settings, or let Dispatch choose."), ours);

          dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                              NULL, hint,
                              _("Dispatch does not support the authentication mechanism “%s”."),
                              requested);
          return NULL;
        }

      if (mechanism == MECHANISM_XOAUTH2 && !have_oauth2_token)
        {
          dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                              NULL, _("Sign in with an OAuth 2.0 access token, or choose another mechanism."),
                              _("The authentication mechanism XOAUTH2 needs an OAuth 2.0 access token, and none was given."));
          return NULL;
        }

      if (!is_advertised (advertised, mechanism))
        {
          if (offered == NULL)
            dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                                NULL, no_auth_hint (encrypted),
                                _("The server does not offer the authentication mechanism “%s”; it offers no authentication at all."),
                                supported_mechanisms[mechanism]);
          else
            dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                                NULL, _("Choose a mechanism the server offers in the account settings, or let Dispatch choose."),
                                /* Translators: the second %s is a list such as "PLAIN, LOGIN" */
                                _("The server does not offer the authentication mechanism “%s”; it offers %s."),
                                supported_mechanisms[mechanism], offered);
          return NULL;
        }

      return supported_mechanisms[mechanism];
    }

  /* A token is not a password: falling back to PLAIN with it would only earn a 535. */
  if (have_oauth2_token)
    {
      if (is_advertised (advertised, MECHANISM_XOAUTH2))
        return supported_mechanisms[MECHANISM_XOAUTH2];

      if (offered == NULL)
        dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                            NULL, no_auth_hint (encrypted),
                            _("An OAuth 2.0 access token was given, but the server offers no authentication at all."));
      else
        dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                            NULL, _("Sign in with a password instead of a token."),
                            /* Translators: %s is a list such as "PLAIN, LOGIN" */
                            _("An OAuth 2.0 access token was given, but the server does not offer XOAUTH2; it offers %s."),
                            offered);
      return NULL;
    }

  if (encrypted)
    {
      preference = preference_encrypted;
      n_preference = G_N_ELEMENTS (preference_encrypted);
    }
  else
    {
      preference = preference_clear;
      n_preference = G_N_ELEMENTS (preference_clear);
    }

  for (gsize i = 0; i < n_preference; i++)
    {
      if (is_advertised (advertised, preference[i]))
        return supported_mechanisms[preference[i]];
    }

  if (offered == NULL)
    dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                        NULL, no_auth_hint (encrypted),
                        _("The server does not offer authentication."));
  else
    dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                        NULL,
                        is_advertised (advertised, MECHANISM_XOAUTH2)
                          ? _("The server accepts OAuth 2.0 access tokens (XOAUTH2): sign in with a token instead of a password.")
                          : NULL,
                        /* Translators: %s is a list such as "GSSAPI, NTLM" */
                        _("The server offers no authentication mechanism that Dispatch supports; it offers %s."),
                        offered);
  return NULL;
}

DispatchSmtpAuth *
dispatch_smtp_auth_new (const char  *mechanism,
                        const char  *user,
                        const char  *secret,
                        GError     **error)
{
  DispatchSmtpAuth *auth;
  int found;

  g_return_val_if_fail (mechanism != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* A missing user name or password is the user's omission, not a programming error: it gets
   * the same explanation as an empty one. */
  if (user == NULL)
    user = "";
  if (secret == NULL)
    secret = "";

  found = lookup_mechanism (mechanism);
  if (found < 0)
    {
      dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH,
                          NULL, NULL,
                          _("Dispatch does not support the authentication mechanism “%s”."),
                          mechanism);
      return NULL;
    }

  /* RFC 4616 and friends carry the user name as UTF-8 and allow neither name nor password empty;
   * saying so here beats a bare 535 from the server. */
  if (*user == '\0' || !g_utf8_validate (user, -1, NULL))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH,
                          NULL, NULL,
                          *user == '\0' ? _("The user name is empty.")
                                        : _("The user name is not valid UTF-8 text."));
      return NULL;
    }

  if (*secret == '\0')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH,
                          NULL, NULL,
                          found == MECHANISM_XOAUTH2 ? _("The access token is empty.")
                                                     : _("The password is empty."));
      return NULL;
    }

  /* XOAUTH2 separates its fields with ^A: one inside a field would shift them. */
  if (found == MECHANISM_XOAUTH2 && (strchr (user, '\001') != NULL || strchr (secret, '\001') != NULL))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH,
                          NULL, NULL,
                          _("The user name or the access token contains a control character."));
      return NULL;
    }

  auth = g_new0 (DispatchSmtpAuth, 1);
  auth->mechanism = found;
  auth->user = g_strdup (user);
  auth->secret = g_strdup (secret);

  return auth;
}

void
dispatch_smtp_auth_free (DispatchSmtpAuth *auth)
{
  if (auth == NULL)
    return;

  g_clear_pointer (&auth->user, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (&auth->secret, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (&auth->server_error, g_free);
  g_free (auth);
}

const char *
dispatch_smtp_auth_get_mechanism (DispatchSmtpAuth *auth)
{
  g_return_val_if_fail (auth != NULL, NULL);

  return supported_mechanisms[auth->mechanism];
}

gboolean
dispatch_smtp_auth_completes_at_once (const char *mechanism)
{
  g_return_val_if_fail (mechanism != NULL, FALSE);

  /* Not XOAUTH2: a refused token comes back as a 334 challenge that needs an answer. */
  return g_ascii_strcasecmp (mechanism, "PLAIN") == 0;
}

const char *
dispatch_smtp_auth_get_server_error (DispatchSmtpAuth *auth)
{
  g_return_val_if_fail (auth != NULL, NULL);

  return auth->server_error;
}

typedef struct
{
  const char *data;
  gsize       length;
} Piece;

#define PIECE(string) { (string), strlen (string) }

/* Base64 of the pieces laid end to end. The clear concatenation holds the secret, so it is
 * wiped as soon as it is encoded; the encoded copy is the caller's to wipe. */
static char *
encode_pieces (const Piece *pieces,
               gsize        n_pieces)
{
  guchar *clear;
  char *encoded;
  gsize total = 0;
  gsize offset = 0;

  for (gsize i = 0; i < n_pieces; i++)
    total += pieces[i].length;

  clear = g_malloc (total + 1);
  for (gsize i = 0; i < n_pieces; i++)
    {
      memcpy (clear + offset, pieces[i].data, pieces[i].length);
      offset += pieces[i].length;
    }

  encoded = g_base64_encode (clear, total);

  wipe_memory (clear, total);
  g_free (clear);

  return encoded;
}

/*   RFC 4616:  [authzid] NUL authcid NUL passwd
 * We never act on behalf of someone else, so the authorisation identity is left empty. */
static char *
plain_response (DispatchSmtpAuth *auth)
{
  const Piece pieces[] = {
    { "", 1 },
    PIECE (auth->user),
    { "", 1 },
    PIECE (auth->secret),
  };

  return encode_pieces (pieces, G_N_ELEMENTS (pieces));
}

/*   "user=" user ^A "auth=Bearer " token ^A ^A
 * as Google and Microsoft document XOAUTH2. */
static char *
xoauth2_response (DispatchSmtpAuth *auth)
{
  const Piece pieces[] = {
    PIECE ("user="),
    PIECE (auth->user),
    PIECE ("\001" "auth=Bearer "),
    PIECE (auth->secret),
    PIECE ("\001" "\001"),
  };

  return encode_pieces (pieces, G_N_ELEMENTS (pieces));
}

/*   RFC 2195:  user SP lower-case-hex(HMAC-MD5(key = password, text = challenge)) */
static char *
cram_md5_response (DispatchSmtpAuth *auth,
                   const guchar     *challenge,
                   gsize             challenge_length)
{
  g_autoptr(GHmac) hmac = NULL;
  const char *digest;

  hmac = g_hmac_new (G_CHECKSUM_MD5, (const guchar *) auth->secret, strlen (auth->secret));
  g_hmac_update (hmac, challenge, challenge_length);
  digest = g_hmac_get_string (hmac);

  {
    const Piece pieces[] = {
      PIECE (auth->user),
      PIECE (" "),
      PIECE (digest),
    };

    return encode_pieces (pieces, G_N_ELEMENTS (pieces));
  }
}

static char *
single_string_response (const char *string)
{
  const Piece pieces[] = { PIECE (string) };

  return encode_pieces (pieces, G_N_ELEMENTS (pieces));
}

char *
dispatch_smtp_auth_initial_response (DispatchSmtpAuth *auth)
{
  g_return_val_if_fail (auth != NULL, NULL);

  switch (auth->mechanism)
    {
    case MECHANISM_PLAIN:
      g_return_val_if_fail (auth->step == 0, NULL);
      auth->step++;
      return plain_response (auth);

    case MECHANISM_XOAUTH2:
      g_return_val_if_fail (auth->step == 0, NULL);
      auth->step++;
      return xoauth2_response (auth);

    case MECHANISM_LOGIN:
    case MECHANISM_CRAM_MD5:
      return NULL;

    default:
      g_return_val_if_reached (NULL);
    }
}

/* g_base64_decode() skips whatever is not in the alphabet, so "Zm9v!" would pass as "foo".
 * Challenges must be canonical RFC 4648 base64: whole quanta of the alphabet, with '=' only as
 * the final padding. */
static gboolean
is_strict_base64 (const char *text)
{
  gsize length = strlen (text);
  gsize padding = 0;

  if (length % 4 != 0)
    return FALSE;

  if (length > 0 && text[length - 1] == '=')
    {
      padding = 1;
      if (text[length - 2] == '=')
        padding = 2;
    }

  for (gsize i = 0; i < length - padding; i++)
    {
      if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/')
        return FALSE;
    }

  return TRUE;
}

/* The reply is rebuilt from the challenge for the error; a hostile server's bytes must not reach
 * a label as invalid UTF-8. */
static void
set_challenge_error (GError     **error,
                     const char  *challenge,
                     const char  *message)
{
  g_autofree char *valid = g_utf8_make_valid (challenge, -1);
  g_autofree char *reply = g_strconcat ("334 ", valid, NULL);

  dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH,
                      reply, NULL, "%s", message);
}

char *
dispatch_smtp_auth_step (DispatchSmtpAuth  *auth,
                         const char        *challenge,
                         GError           **error)
{
  g_autofree guchar *decoded = NULL;
  gsize decoded_length = 0;

  g_return_val_if_fail (auth != NULL, NULL);
  g_return_val_if_fail (challenge != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!is_strict_base64 (challenge))
    {
      set_challenge_error (error, challenge,
                           _("The server sent an authentication challenge that is not valid base64."));
      return NULL;
    }

  decoded = g_base64_decode (challenge, &decoded_length);

  switch (auth->mechanism)
    {
    case MECHANISM_PLAIN:
      /* RFC 4954: a server that got no initial response asks for it with an empty challenge. Once
       * the response is out, PLAIN has nothing more to say. */
      if (auth->step == 0 && decoded_length == 0)
        {
          auth->step++;
          return plain_response (auth);
        }
      break;

    case MECHANISM_XOAUTH2:
      if (auth->step == 0 && decoded_length == 0)
        {
          auth->step++;
          return xoauth2_response (auth);
        }
      /* The server's way to explain a refused token is a challenge holding JSON; it wants an
       * empty answer before it sends its final 535. */
      if (auth->step == 1)
        {
          auth->step++;
          if (decoded_length > 0)
            auth->server_error = g_utf8_make_valid ((const char *) decoded, decoded_length);
          return g_strdup ("");
        }
      break;

    case MECHANISM_LOGIN:
      /* The prompts ("Username:", "Password:") vary between servers and are sometimes localised;
       * only their order is reliable. */
      if (auth->step == 0)
        {
          auth->step++;
          return single_string_response (auth->user);
        }
      if (auth->step == 1)
        {
          auth->step++;
          return single_string_response (auth->secret);
        }
      break;

    case MECHANISM_CRAM_MD5:
      if (auth->step == 0 && decoded_length > 0)
        {
          auth->step++;
          return cram_md5_response (auth, decoded, decoded_length);
        }
      break;

    default:
      g_assert_not_reached ();
    }

  {
    g_autofree char *message = g_strdup_printf (_("The server sent an unexpected challenge during %s authentication."),
                                                supported_mechanisms[auth->mechanism]);

    set_challenge_error (error, challenge, message);
  }
  return NULL;
}

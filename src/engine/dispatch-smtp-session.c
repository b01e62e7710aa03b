/* dispatch-smtp-session.c — one SMTP submission (RFC 5321, 6409), run in a worker thread.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The dialogue is plain synchronous GIO inside a GTask thread, so it reads top to bottom like
 * the protocol:
 *
 *   S: 220 greeting                       connect (TLS first for security=tls)
 *   C: EHLO name       S: 250-caps …      HELO only after 500/502
 *   C: STARTTLS        S: 220             handshake, then EHLO again
 *   C: AUTH mech [ir]  S: 334 …/235
 *   C: MAIL FROM / RCPT TO … / DATA or BDAT     pipelined when offered
 *   C: QUIT            S: 221
 *
 * Everything the worker wants the caller to know goes through a queue and is emitted as a
 * signal on the caller's main context, in order, before the operation's callback runs.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "dispatch-engine-enums.h"
#include "dispatch-error.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-capabilities.h"
#include "dispatch-smtp-command.h"
#include "dispatch-smtp-connection.h"
#include "dispatch-smtp-session.h"

/* With PIPELINING, a message up to this size goes out in the same flight as its envelope;
 * larger ones wait for the envelope's replies first so a refused envelope costs no upload. */
#define ONE_FLIGHT_MAX     (1024 * 1024)
/* BDAT chunk sizes: pipelined chunks need not be big; lock-step ones pay a round trip each. */
#define CHUNK_PIPELINED    (256 * 1024)
#define CHUNK_LOCKSTEP     (4 * 1024 * 1024)
/* How long a courtesy QUIT after a failure may take. */
#define QUIT_TIMEOUT       5

/* ─── Result ─────────────────────────────────────────────────────────────────────────────── */

static void
recipient_free (gpointer data)
{
  DispatchSmtpRecipient *recipient = data;

  g_free (recipient->address);
  g_free (recipient->reply);
  g_free (recipient);
}

static DispatchSmtpRecipient *
recipient_new (const char *address,
               guint       code,
               const char *reply)
{
  DispatchSmtpRecipient *recipient = g_new0 (DispatchSmtpRecipient, 1);

  recipient->address = g_strdup (address);
  recipient->code = code;
  recipient->reply = g_strdup (reply);
  return recipient;
}

static DispatchSmtpResult *
result_new (void)
{
  DispatchSmtpResult *result = g_new0 (DispatchSmtpResult, 1);

  result->accepted = g_ptr_array_new_with_free_func (recipient_free);
  result->refused = g_ptr_array_new_with_free_func (recipient_free);
  return result;
}

DispatchSmtpResult *
dispatch_smtp_result_copy (const DispatchSmtpResult *result)
{
  DispatchSmtpResult *copy;

  g_return_val_if_fail (result != NULL, NULL);

  copy = result_new ();
  copy->final_reply = g_strdup (result->final_reply);
  copy->queue_id = g_strdup (result->queue_id);
  for (guint i = 0; i < result->accepted->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (result->accepted, i);
      g_ptr_array_add (copy->accepted, recipient_new (r->address, r->code, r->reply));
    }
  for (guint i = 0; i < result->refused->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (result->refused, i);
      g_ptr_array_add (copy->refused, recipient_new (r->address, r->code, r->reply));
    }
  copy->tls_version = g_strdup (result->tls_version);
  copy->tls_cipher = g_strdup (result->tls_cipher);
  copy->auth_mechanism = g_strdup (result->auth_mechanism);
  copy->server_domain = g_strdup (result->server_domain);
  copy->bytes_sent = result->bytes_sent;
  copy->used_pipelining = result->used_pipelining;
  copy->used_chunking = result->used_chunking;
  return copy;
}

void
dispatch_smtp_result_free (DispatchSmtpResult *result)
{
  if (result == NULL)
    return;

  g_free (result->final_reply);
  g_free (result->queue_id);
  g_ptr_array_unref (result->accepted);
  g_ptr_array_unref (result->refused);
  g_free (result->tls_version);
  g_free (result->tls_cipher);
  g_free (result->auth_mechanism);
  g_free (result->server_domain);
  g_free (result);
}

G_DEFINE_BOXED_TYPE (DispatchSmtpResult, dispatch_smtp_result,
                     dispatch_smtp_result_copy, dispatch_smtp_result_free)

/* ─── Events: from the worker to the caller's main context ──────────────────────────────── */

typedef enum
{
  EVENT_STATE,
  EVENT_TRANSCRIPT,
  EVENT_PROGRESS,
  EVENT_RECIPIENT,
} EventKind;

typedef struct
{
  EventKind kind;
  guint     value;      /* state, direction or reply code */
  char     *text;       /* transcript line, or recipient address */
  char     *reply;      /* recipient reply */
  guint64   sent;
  guint64   total;
} Event;

static void
event_free (gpointer data)
{
  Event *event = data;

  g_free (event->text);
  g_free (event->reply);
  g_free (event);
}

struct _DispatchSmtpSession
{
  GObject parent_instance;

  /* main-thread state */
  DispatchSmtpState state;
  gboolean busy;

  /* shared with the worker, under lock */
  GMutex lock;
  GQueue events;                 /* (element-type Event) */
  GSource *dispatch_source;      /* pending idle on context, or NULL */
  GMainContext *context;         /* the caller's, for the running operation */
};

G_DEFINE_FINAL_TYPE (DispatchSmtpSession, dispatch_smtp_session, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_TRANSCRIPT,
  SIGNAL_PROGRESS,
  SIGNAL_RECIPIENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
emit_event (DispatchSmtpSession *self,
            Event               *event)
{
  switch (event->kind)
    {
    case EVENT_STATE:
      self->state = event->value;
      g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (DispatchSmtpState) event->value);
      break;
    case EVENT_TRANSCRIPT:
      g_signal_emit (self, signals[SIGNAL_TRANSCRIPT], 0, (DispatchSmtpDirection) event->value, event->text);
      break;
    case EVENT_PROGRESS:
      g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, event->sent, event->total);
      break;
    case EVENT_RECIPIENT:
      g_signal_emit (self, signals[SIGNAL_RECIPIENT], 0, event->text, event->value, event->reply);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Runs on the caller's context: emits everything queued so far, oldest first. */
static gboolean
dispatch_events (gpointer user_data)
{
  DispatchSmtpSession *self = user_data;
  GQueue pending = G_QUEUE_INIT;
  Event *event;

  g_mutex_lock (&self->lock);
  pending = self->events;
  g_queue_init (&self->events);
  if (self->dispatch_source != NULL)
    {
      /* Called directly to flush: the idle must not run again later. */
      g_source_destroy (self->dispatch_source);
      g_clear_pointer (&self->dispatch_source, g_source_unref);
    }
  g_mutex_unlock (&self->lock);

  while ((event = g_queue_pop_head (&pending)) != NULL)
    {
      emit_event (self, event);
      event_free (event);
    }

  return G_SOURCE_REMOVE;
}

/* Called from the worker. Progress events coalesce: a slow main loop sees the latest figure,
 * not a backlog of thousands. */
static void
post_event (DispatchSmtpSession *self,
            Event               *event)
{
  Event *tail;

  g_mutex_lock (&self->lock);

  tail = g_queue_peek_tail (&self->events);
  if (event->kind == EVENT_PROGRESS && tail != NULL && tail->kind == EVENT_PROGRESS)
    {
      tail->sent = event->sent;
      tail->total = event->total;
      event_free (event);
    }
  else
    g_queue_push_tail (&self->events, event);

  if (self->dispatch_source == NULL)
    {
      self->dispatch_source = g_idle_source_new ();
      g_source_set_priority (self->dispatch_source, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->dispatch_source, dispatch_events,
                             g_object_ref (self), g_object_unref);
      g_source_set_static_name (self->dispatch_source, "[dispatch] session events");
      g_source_attach (self->dispatch_source, self->context);
    }

  g_mutex_unlock (&self->lock);
}

static void
dispatch_smtp_session_finalize (GObject *object)
{
  DispatchSmtpSession *self = DISPATCH_SMTP_SESSION (object);

  /* Pending sources hold a reference, so by now the queue is empty. */
  g_queue_clear_full (&self->events, event_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (dispatch_smtp_session_parent_class)->finalize (object);
}

static void
dispatch_smtp_session_class_init (DispatchSmtpSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = dispatch_smtp_session_finalize;

  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, DISPATCH_TYPE_SMTP_STATE);
  signals[SIGNAL_TRANSCRIPT] =
    g_signal_new ("transcript", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, DISPATCH_TYPE_SMTP_DIRECTION, G_TYPE_STRING);
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
  signals[SIGNAL_RECIPIENT] =
    g_signal_new ("recipient", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING);
}

static void
dispatch_smtp_session_init (DispatchSmtpSession *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
}

DispatchSmtpSession *
dispatch_smtp_session_new (void)
{
  return g_object_new (DISPATCH_TYPE_SMTP_SESSION, NULL);
}

DispatchSmtpState
dispatch_smtp_session_get_state (DispatchSmtpSession *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), DISPATCH_SMTP_STATE_IDLE);
  return self->state;
}

gboolean
dispatch_smtp_session_is_busy (DispatchSmtpSession *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), FALSE);
  return self->busy;
}

/* ─── The job: everything one operation needs, owned by the worker ──────────────────────── */

typedef struct
{
  DispatchSmtpSession      *session;
  DispatchAccount          *account;      /* a private copy: the caller may edit theirs */
  DispatchMessage          *message;      /* NULL for a connection test */
  char                     *password;
  char                     *oauth2_token;

  DispatchSmtpConnection   *connection;
  DispatchSmtpCapabilities *capabilities;
  DispatchSmtpResult       *result;

  /* Whether a QUIT would be understood: FALSE in the middle of message data or of a TLS
   * handshake, and after the connection broke. */
  gboolean                  can_quit;
  gboolean                  quit_sent;
  guint64                   total;
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;

  g_clear_object (&job->connection);
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);
  g_clear_pointer (&job->result, dispatch_smtp_result_free);
  g_clear_pointer (&job->password, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (&job->oauth2_token, dispatch_smtp_auth_wipe_string);
  g_clear_object (&job->message);
  g_clear_object (&job->account);
  g_clear_object (&job->session);
  g_free (job);
}

static void
set_state (Job               *job,
           DispatchSmtpState  state)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_STATE;
  event->value = state;
  post_event (job->session, event);
}

static void
on_transcript (DispatchSmtpDirection  direction,
               const char            *line,
               gpointer               user_data)
{
  Job *job = user_data;
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_TRANSCRIPT;
  event->value = direction;
  event->text = g_utf8_make_valid (line, -1);
  post_event (job->session, event);
}

G_GNUC_PRINTF (2, 3)
static void
info (Job        *job,
      const char *format,
      ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  on_transcript (DISPATCH_SMTP_DIRECTION_INFO, line, job);
}

static void
report_progress (Job     *job,
                 guint64  sent)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_PROGRESS;
  event->sent = MIN (sent, job->total);
  event->total = job->total;
  post_event (job->session, event);
}

static void
on_message_progress (guint64  written,
                     gpointer user_data)
{
  report_progress (user_data, written);
}

static const char *
host (Job *job)
{
  return dispatch_account_get_host (job->account);
}

/* ─── Turning replies into errors ───────────────────────────────────────────────────────── */

/* A 4xx is always "try again later"; a 5xx is the caller's @permanent class. */
G_GNUC_PRINTF (6, 7)
static void
set_reply_error (GError                 **error,
                 const DispatchSmtpReply *reply,
                 DispatchSmtpStage        stage,
                 DispatchError            permanent,
                 const char              *hint,
                 const char              *format,
                 ...)
{
  g_autofree char *message = NULL;
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);
  DispatchError code = permanent;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (dispatch_smtp_reply_is_transient (reply))
    {
      code = DISPATCH_ERROR_TEMPORARY;
      if (hint == NULL)
        hint = _("The server reported a temporary problem; try again in a few minutes.");
    }
  else if (!dispatch_smtp_reply_is_permanent (reply))
    {
      /* A positive reply where another was required is a server speaking out of turn. */
      code = DISPATCH_ERROR_PROTOCOL;
    }

  dispatch_set_error (error, code, stage, wire, hint, "%s", message);
}

/* ─── The dialogue, one step per function ───────────────────────────────────────────────── */

static DispatchSmtpReply *
read_reply (Job                *job,
            DispatchSmtpStage   stage,
            GCancellable       *cancellable,
            GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  DispatchSmtpReply *reply;

  reply = dispatch_smtp_connection_read_reply (job->connection, stage, cancellable, &local_error);
  if (reply == NULL)
    {
      if (g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST) ||
          g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL))
        job->can_quit = FALSE;
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return reply;
}

/* A connection that broke cannot carry a QUIT. */
static gboolean
check_wire (Job       *job,
            gboolean   ok,
            GError    *local_error,
            GError   **error)
{
  if (!ok)
    {
      if (g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST))
        job->can_quit = FALSE;
      g_propagate_error (error, local_error);
    }
  return ok;
}

/* Queues a command for the next flight; @shown replaces it in the transcript (AUTH). */
static gboolean
queue_line (Job           *job,
            const char    *line,
            const char    *shown,
            GCancellable  *cancellable,
            GError       **error)
{
  GError *local_error = NULL;

  return check_wire (job,
                     dispatch_smtp_connection_queue (job->connection, line, shown, cancellable, &local_error),
                     local_error, error);
}

static gboolean
send_line (Job           *job,
           const char    *line,
           const char    *shown,
           GCancellable  *cancellable,
           GError       **error)
{
  GError *local_error = NULL;

  return queue_line (job, line, shown, cancellable, error) &&
         check_wire (job, dispatch_smtp_connection_flush (job->connection, cancellable, &local_error),
                     local_error, error);
}

static gboolean
step_connect (Job           *job,
              GCancellable  *cancellable,
              GError       **error)
{
  DispatchSmtpSecurity security = dispatch_account_get_security (job->account);
  g_autoptr(DispatchSmtpReply) greeting = NULL;

  set_state (job, DISPATCH_SMTP_STATE_CONNECTING);

  dispatch_smtp_connection_set_timeout (job->connection, dispatch_account_get_timeout (job->account));
  dispatch_smtp_connection_set_trust (job->connection,
                                      dispatch_account_get_ca_file (job->account),
                                      dispatch_account_get_pinned_sha256 (job->account));

  if (!dispatch_smtp_connection_connect (job->connection, host (job),
                                         dispatch_account_get_effective_port (job->account),
                                         security == DISPATCH_SMTP_SECURITY_TLS,
                                         cancellable, error))
    return FALSE;

  greeting = read_reply (job, DISPATCH_SMTP_STAGE_GREETING, cancellable, error);
  if (greeting == NULL)
    return FALSE;
  job->can_quit = TRUE;

  if (dispatch_smtp_reply_get_code (greeting) != 220)
    {
      /* 554 means "no SMTP service here" and the server waits only for QUIT (RFC 5321 §3.1);
       * 421 means it is closing. Either way the mail cannot go through this server now. */
      set_reply_error (error, greeting, DISPATCH_SMTP_STAGE_GREETING, DISPATCH_ERROR_UNAVAILABLE,
                       _("The server does not accept mail from you at the moment; check the server "
                         "name, or try again later."),
                       /* Translators: %s is a server name */
                       _("%s refused the connection."), host (job));
      if (dispatch_smtp_reply_get_code (greeting) == 421)
        job->can_quit = FALSE;
      return FALSE;
    }
  return TRUE;
}

/* RFC 5321 §4.1.4: the EHLO argument is our FQDN or, lacking one, our address literal. */
static char *
ehlo_name (Job *job)
{
  const char *configured = dispatch_account_get_helo_name (job->account);
  const char *hostname;
  g_autoptr(GInetAddress) local = NULL;

  if (configured != NULL && *configured != '\0')
    return g_strdup (configured);

  /* "localhost.localdomain" and mDNS ".local" names pass the syntax check but name nothing a
   * server could look up; the address literal is more honest. */
  hostname = g_get_host_name ();
  if (dispatch_smtp_is_fqdn (hostname) && hostname[0] != '[' &&
      !g_str_has_prefix (hostname, "localhost") &&
      !g_str_has_suffix (hostname, ".localdomain") && !g_str_has_suffix (hostname, ".local"))
    return g_strdup (hostname);

  local = dispatch_smtp_connection_get_local_address (job->connection);
  if (local != NULL)
    return dispatch_smtp_address_literal (local);
  return g_strdup ("[127.0.0.1]");
}

static gboolean
step_hello (Job           *job,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autofree char *name = ehlo_name (job);
  g_autofree char *ehlo = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  guint code;

  set_state (job, DISPATCH_SMTP_STATE_HELLO);
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);

  ehlo = dispatch_smtp_command_ehlo (name, error);
  if (ehlo == NULL)
    {
      g_prefix_error (error, _("The name to introduce this computer with is not valid: "));
      return FALSE;
    }
  if (!send_line (job, ehlo, NULL, cancellable, error))
    return FALSE;
  reply = read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
  if (reply == NULL)
    return FALSE;

  code = dispatch_smtp_reply_get_code (reply);
  if (code == 250)
    {
      job->capabilities = dispatch_smtp_capabilities_new_from_ehlo (reply);
      return TRUE;
    }

  /* Only a server that does not know EHLO at all gets HELO (RFC 5321 §3.2). */
  if (code == 500 || code == 502)
    {
      g_autofree char *helo = dispatch_smtp_command_helo (name, error);

      g_clear_pointer (&reply, dispatch_smtp_reply_unref);
      if (helo == NULL || !send_line (job, helo, NULL, cancellable, error))
        return FALSE;
      reply = read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
      if (reply == NULL)
        return FALSE;
      if (dispatch_smtp_reply_get_code (reply) == 250)
        {
          job->capabilities = dispatch_smtp_capabilities_new_empty ();
          return TRUE;
        }
    }

  set_reply_error (error, reply, DISPATCH_SMTP_STAGE_HELLO, DISPATCH_ERROR_UNAVAILABLE,
                   _("The server may not accept this computer's name; set another one in the "
                     "account settings."),
                   /* Translators: %s is a server name */
                   _("%s refused the introduction (EHLO)."), host (job));
  return FALSE;
}

static gboolean
step_starttls (Job           *job,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(DispatchSmtpReply) reply = NULL;

  set_state (job, DISPATCH_SMTP_STATE_SECURING);

  /* No silent downgrade: the user asked for encryption, and a server (or someone in between)
   * that does not offer it gets nothing. */
  if (!dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_STARTTLS))
    {
      dispatch_set_error (error, DISPATCH_ERROR_TLS_NOT_OFFERED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Nothing was sent. Use TLS (usually port 465) if the server offers "
                            "it; choose no encryption only for a server on a network you trust."),
                          /* Translators: %s is a server name */
                          _("%s does not offer STARTTLS, so the connection cannot be encrypted."),
                          host (job));
      return FALSE;
    }

  if (!send_line (job, DISPATCH_SMTP_COMMAND_STARTTLS, NULL, cancellable, error))
    return FALSE;
  reply = read_reply (job, DISPATCH_SMTP_STAGE_TLS, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (dispatch_smtp_reply_get_code (reply) != 220)
    {
      set_reply_error (error, reply, DISPATCH_SMTP_STAGE_TLS, DISPATCH_ERROR_TLS_FAILED, NULL,
                       _("%s refused to start encryption."), host (job));
      return FALSE;
    }

  job->can_quit = FALSE;
  if (!dispatch_smtp_connection_starttls (job->connection, cancellable, error))
    return FALSE;
  job->can_quit = TRUE;

  /* What the server said in clear could have been forged: ask again under TLS (RFC 3207 §4.2). */
  return step_hello (job, cancellable, error);
}

static gboolean
wants_auth (Job *job)
{
  const char *user = dispatch_account_get_user (job->account);

  return (user != NULL && *user != '\0') || job->oauth2_token != NULL;
}

static gboolean
step_auth (Job           *job,
           GCancellable  *cancellable,
           GError       **error)
{
  gboolean encrypted = dispatch_smtp_connection_is_encrypted (job->connection);
  const char *user = dispatch_account_get_user (job->account);
  const char *mechanism;
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autofree char *command = NULL;
  g_autofree char *shown = NULL;
  char *initial;

  set_state (job, DISPATCH_SMTP_STATE_AUTHENTICATING);

  if (!encrypted && !dispatch_account_get_allow_plaintext_auth (job->account))
    {
      dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          _("Use STARTTLS or TLS. Allow the password over an unencrypted "
                            "connection only for a server on a network you trust."),
                          _("Your password was not sent: the connection is not encrypted."));
      return FALSE;
    }

  if (!dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_AUTH))
    {
      dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          encrypted
                            ? _("Leave the user name empty if this server accepts mail without signing in.")
                            : _("Many servers offer sign-in only after STARTTLS; choose STARTTLS or TLS."),
                          /* Translators: %s is a server name */
                          _("%s does not offer sign-in (AUTH)."), host (job));
      return FALSE;
    }

  mechanism = dispatch_smtp_auth_choose (dispatch_smtp_capabilities_get_auth_mechanisms (job->capabilities),
                                         dispatch_account_get_auth_mechanism (job->account),
                                         job->oauth2_token != NULL, encrypted, error);
  if (mechanism == NULL)
    return FALSE;

  if (job->oauth2_token == NULL && job->password == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          _("Enter the password in the account settings."),
                          _("No password was given for %s."), user ? user : "");
      return FALSE;
    }

  auth = dispatch_smtp_auth_new (mechanism, user ? user : "",
                                 g_str_equal (mechanism, "XOAUTH2") ? job->oauth2_token : job->password,
                                 error);
  if (auth == NULL)
    return FALSE;

  initial = dispatch_smtp_auth_initial_response (auth);
  command = dispatch_smtp_command_auth (mechanism, initial, error);
  shown = initial != NULL ? g_strdup_printf ("AUTH %s " DISPATCH_SMTP_REDACTED, mechanism)
                          : g_strdup_printf ("AUTH %s", mechanism);
  g_clear_pointer (&initial, dispatch_smtp_auth_wipe_string);
  if (command == NULL)
    return FALSE;

  if (!send_line (job, command, shown, cancellable, error))
    {
      g_clear_pointer (&command, dispatch_smtp_auth_wipe_string);
      return FALSE;
    }
  g_clear_pointer (&command, dispatch_smtp_auth_wipe_string);

  for (guint round = 0; ; round++)
    {
      g_autoptr(DispatchSmtpReply) reply = read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, error);
      g_autofree char *answer = NULL;
      g_autofree char *line = NULL;
      guint code;

      if (reply == NULL)
        return FALSE;
      code = dispatch_smtp_reply_get_code (reply);

      if (code == 235)
        {
          job->result->auth_mechanism = g_strdup (mechanism);
          return TRUE;
        }

      if (code != 334)
        {
          const char *server_error = dispatch_smtp_auth_get_server_error (auth);

          if (code == 530 && !encrypted)
            set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                             _("The server wants an encrypted connection first: choose STARTTLS or TLS."),
                             _("%s refused the sign-in."), host (job));
          else if (server_error != NULL)
            {
              g_autofree char *hint = g_strdup_printf (_("The access token was refused (%s); get a new one."),
                                                       server_error);
              set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                               hint, _("%s refused the sign-in."), host (job));
            }
          else
            set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                             dispatch_error_auth_hint (host (job)),
                             /* Translators: first %s is the user name, second a server name */
                             _("The sign-in as %s was refused by %s."), user ? user : "", host (job));
          return FALSE;
        }

      /* A server that keeps challenging forever is not authenticating anyone. */
      if (round >= 8)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH, NULL, NULL,
                              _("%s sent too many authentication challenges."), host (job));
          job->can_quit = FALSE;
          return FALSE;
        }

      answer = dispatch_smtp_auth_step (auth, dispatch_smtp_reply_get_lines (reply)[0], error);
      if (answer == NULL)
        {
          /* "*" cancels the exchange (RFC 4954 §4) so the dialogue stays in step. */
          send_line (job, "*\r\n", NULL, cancellable, NULL);
          g_clear_pointer (&reply, dispatch_smtp_reply_unref);
          reply = read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, NULL);
          return FALSE;
        }
      line = g_strconcat (answer, "\r\n", NULL);
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&answer));
      if (!send_line (job, line, DISPATCH_SMTP_REDACTED, cancellable, error))
        {
          dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
          return FALSE;
        }
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
    }
}

/* ─── The transaction: MAIL, RCPT, DATA or BDAT ─────────────────────────────────────────── */

static gboolean
read_mail_reply (Job           *job,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(DispatchSmtpReply) reply = read_reply (job, DISPATCH_SMTP_STAGE_SENDER, cancellable, error);

  if (reply == NULL)
    return FALSE;
  if (dispatch_smtp_reply_get_class (reply) != 2)
    {
      set_reply_error (error, reply, DISPATCH_SMTP_STAGE_SENDER, DISPATCH_ERROR_SENDER_REFUSED,
                       _("Use the address that belongs to the account you sign in with, or check "
                         "that sign-in is set up."),
                       /* Translators: %s is an e-mail address */
                       _("The server refused the sender address %s."),
                       dispatch_message_get_envelope_from (job->message));
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_rcpt_reply (Job           *job,
                 const char    *address,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(DispatchSmtpReply) reply = read_reply (job, DISPATCH_SMTP_STAGE_RECIPIENT, cancellable, error);
  g_autofree char *text = NULL;
  Event *event;

  if (reply == NULL)
    return FALSE;

  text = dispatch_smtp_reply_to_string (reply);
  event = g_new0 (Event, 1);
  event->kind = EVENT_RECIPIENT;
  event->text = g_strdup (address);
  event->value = dispatch_smtp_reply_get_code (reply);
  event->reply = g_strdup (text);
  post_event (job->session, event);

  g_ptr_array_add (dispatch_smtp_reply_get_class (reply) == 2 ? job->result->accepted
                                                               : job->result->refused,
                   recipient_new (address, dispatch_smtp_reply_get_code (reply), text));
  return TRUE;
}

/* Every recipient refused: say who and why. */
static void
set_recipients_error (Job     *job,
                      GError **error)
{
  g_autoptr(GString) replies = g_string_new (NULL);
  gboolean all_transient = TRUE;

  for (guint i = 0; i < job->result->refused->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (job->result->refused, i);

      g_string_append_printf (replies, "%s%s: %s", i ? "\n" : "", r->address, r->reply);
      all_transient = all_transient && r->code / 100 == 4;
    }
  dispatch_set_error (error,
                      all_transient ? DISPATCH_ERROR_TEMPORARY : DISPATCH_ERROR_RECIPIENTS_REFUSED,
                      DISPATCH_SMTP_STAGE_RECIPIENT, replies->str,
                      all_transient ? _("Try again in a few minutes.")
                                    : _("Check the addresses for typing errors. A server that "
                                        "refuses every recipient may also want you to sign in."),
                      _("The server refused every recipient; nothing was sent."));
}

/* The replies to a pipelined MAIL and RCPTs. All of them are read even after a failure, so the
 * dialogue stays in step; the first failure is what the user hears about. */
static gboolean
read_envelope_replies (Job                *job,
                       const char * const *recipients,
                       GCancellable       *cancellable,
                       GError            **error)
{
  g_autoptr(GError) sender_error = NULL;

  if (!read_mail_reply (job, cancellable, &sender_error) &&
      !g_error_matches (sender_error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED) &&
      !g_error_matches (sender_error, DISPATCH_ERROR, DISPATCH_ERROR_TEMPORARY))
    {
      g_propagate_error (error, g_steal_pointer (&sender_error));
      return FALSE;
    }

  for (guint i = 0; recipients[i] != NULL; i++)
    if (!read_rcpt_reply (job, recipients[i], cancellable, error))
      return FALSE;

  if (sender_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&sender_error));
      return FALSE;
    }
  if (job->result->accepted->len == 0)
    {
      set_recipients_error (job, error);
      return FALSE;
    }
  return TRUE;
}

static char *
build_mail_command (Job      *job,
                    guint64   size,
                    GError  **error)
{
  DispatchSmtpBody body = dispatch_message_needs_8bitmime (job->message) ? DISPATCH_SMTP_BODY_8BITMIME
                                                                         : DISPATCH_SMTP_BODY_NONE;
  gboolean declare_size = dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_SIZE);

  return dispatch_smtp_command_mail_from (dispatch_message_get_envelope_from (job->message),
                                          declare_size ? size : 0, body,
                                          dispatch_message_needs_smtputf8 (job->message), error);
}

/* Without PIPELINING: one command, one reply (RFC 5321 §4.1.1). */
static gboolean
lockstep_envelope (Job                *job,
                   guint64             size,
                   const char * const *recipients,
                   GCancellable       *cancellable,
                   GError            **error)
{
  g_autofree char *mail = build_mail_command (job, size, error);

  if (mail == NULL || !send_line (job, mail, NULL, cancellable, error))
    return FALSE;
  if (!read_mail_reply (job, cancellable, error))
    return FALSE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i],
                                                             dispatch_message_needs_smtputf8 (job->message),
                                                             error);

      if (rcpt == NULL || !send_line (job, rcpt, NULL, cancellable, error))
        return FALSE;
      if (!read_rcpt_reply (job, recipients[i], cancellable, error))
        return FALSE;
    }

  if (job->result->accepted->len == 0)
    {
      set_recipients_error (job, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
queue_envelope (Job                *job,
                guint64             size,
                const char * const *recipients,
                GCancellable       *cancellable,
                GError            **error)
{
  g_autofree char *mail = build_mail_command (job, size, error);

  if (mail == NULL || !queue_line (job, mail, NULL, cancellable, error))
    return FALSE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i],
                                                             dispatch_message_needs_smtputf8 (job->message),
                                                             error);

      if (rcpt == NULL || !queue_line (job, rcpt, NULL, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* The reply to the end of the data: "250 … queued as X", or the reason for refusal. */
static gboolean
check_final_reply (Job                *job,
                   DispatchSmtpReply  *reply,
                   GError            **error)
{
  g_autofree char *text = NULL;
  const char *queued;

  if (dispatch_smtp_reply_get_class (reply) != 2)
    {
      if (dispatch_smtp_reply_get_code (reply) == 552)
        {
          guint64 max = dispatch_smtp_capabilities_get_max_size (job->capabilities);
          g_autofree char *limit = max > 0 ? g_format_size (max) : NULL;
          g_autofree char *hint = limit ? g_strdup_printf (_("The server accepts messages up to %s; "
                                                             "send smaller or fewer attachments."), limit)
                                        : g_strdup (_("Send smaller or fewer attachments."));

          set_reply_error (error, reply, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_TOO_LARGE,
                           hint, _("The server refused the message as too large."));
        }
      else
        set_reply_error (error, reply, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_REFUSED,
                         _("The server's reply says why; the message may look like spam or break "
                           "a rule of the server."),
                         _("The server refused the message."));
      return FALSE;
    }

  job->result->final_reply = dispatch_smtp_reply_to_string (reply);
  text = dispatch_smtp_reply_get_text (reply);
  queued = strstr (text, "queued as ");
  if (queued == NULL)
    queued = strstr (text, "Queued as ");
  if (queued != NULL)
    {
      const char *start = queued + strlen ("queued as ");
      gsize len = strcspn (start, " \t;,)");

      /* Postfix ends with the bare id; others wrap or punctuate it. */
      while (len > 0 && (start[len - 1] == '.' || start[len - 1] == ']'))
        len--;
      if (len > 0)
        job->result->queue_id = g_strndup (start, len);
    }
  return TRUE;
}

/* ─── BDAT framing (RFC 3030): a stream that cuts what is written to it into chunks ────── */

#define DISPATCH_TYPE_BDAT_STREAM (dispatch_bdat_stream_get_type ())
G_DECLARE_FINAL_TYPE (DispatchBdatStream, dispatch_bdat_stream, DISPATCH, BDAT_STREAM, GOutputStream)

struct _DispatchBdatStream
{
  GOutputStream parent_instance;

  Job *job;                 /* borrowed */
  GByteArray *chunk;
  gsize chunk_size;
  guint n_chunks;           /* sent and not yet answered */
  gboolean lockstep;        /* wait for each chunk's reply (no PIPELINING) */
  GError *reply_error;      /* a refused chunk, in lock-step mode */
};

G_DEFINE_FINAL_TYPE (DispatchBdatStream, dispatch_bdat_stream, G_TYPE_OUTPUT_STREAM)

static gboolean
bdat_send_chunk (DispatchBdatStream  *self,
                 gboolean             last,
                 GCancellable        *cancellable,
                 GError             **error)
{
  g_autofree char *command = dispatch_smtp_command_bdat (self->chunk->len, last);
  GOutputStream *output = dispatch_smtp_connection_get_output (self->job->connection);

  if (!queue_line (self->job, command, NULL, cancellable, error))
    return FALSE;
  if (!g_output_stream_write_all (output, self->chunk->data, self->chunk->len, NULL, cancellable, error))
    return FALSE;
  self->n_chunks++;
  g_byte_array_set_size (self->chunk, 0);

  if (self->lockstep && !last)
    {
      g_autoptr(DispatchSmtpReply) reply = read_reply (self->job, DISPATCH_SMTP_STAGE_DATA,
                                                       cancellable, error);
      if (reply == NULL)
        return FALSE;
      self->n_chunks--;
      if (dispatch_smtp_reply_get_class (reply) != 2)
        {
          check_final_reply (self->job, reply, &self->reply_error);
          /* Past a refused chunk the server is out of the transaction: QUIT is understood. */
          self->job->can_quit = TRUE;
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, self->reply_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static gssize
dispatch_bdat_stream_write (GOutputStream  *stream,
                            const void     *buffer,
                            gsize           count,
                            GCancellable   *cancellable,
                            GError        **error)
{
  DispatchBdatStream *self = DISPATCH_BDAT_STREAM (stream);
  gsize n = MIN (count, self->chunk_size - self->chunk->len);

  g_byte_array_append (self->chunk, buffer, n);
  if (self->chunk->len == self->chunk_size && !bdat_send_chunk (self, FALSE, cancellable, error))
    return -1;
  return n;
}

static void
dispatch_bdat_stream_finalize (GObject *object)
{
  DispatchBdatStream *self = DISPATCH_BDAT_STREAM (object);

  g_byte_array_unref (self->chunk);
  g_clear_error (&self->reply_error);
  G_OBJECT_CLASS (dispatch_bdat_stream_parent_class)->finalize (object);
}

static void
dispatch_bdat_stream_class_init (DispatchBdatStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dispatch_bdat_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dispatch_bdat_stream_write;
}

static void
dispatch_bdat_stream_init (DispatchBdatStream *self)
{
  self->chunk = g_byte_array_new ();
}

static gboolean
write_message (Job            *job,
               GOutputStream  *stream,
               gboolean        dot_stuff,
               GCancellable   *cancellable,
               GError        **error)
{
  g_autofree char *size_text = g_format_size_full (job->total, G_FORMAT_SIZE_LONG_FORMAT);
  g_autoptr(GError) local_error = NULL;

  info (job, "(message data: %s)", size_text);
  set_state (job, DISPATCH_SMTP_STATE_SENDING_DATA);
  report_progress (job, 0);

  /* From the first byte of data to its terminator, nothing else can be said on this
   * connection; a failure in between leaves only closing it. */
  job->can_quit = FALSE;
  if (!dispatch_message_write (job->message, stream, dot_stuff, on_message_progress, job,
                               cancellable, &local_error))
    {
      if (local_error->domain == G_IO_ERROR && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        dispatch_smtp_connection_propagate_io_error (job->connection, error, g_steal_pointer (&local_error),
                                                     DISPATCH_SMTP_STAGE_DATA);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* MAIL, RCPT…, DATA, message, "." — pipelined or in lock-step. */
static gboolean
transfer_with_data (Job                *job,
                    gboolean            pipelining,
                    const char * const *recipients,
                    GCancellable       *cancellable,
                    GError            **error)
{
  g_autoptr(DispatchSmtpReply) go_ahead = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  g_autoptr(GError) envelope_error = NULL;

  if (pipelining)
    {
      /* RFC 2920 §3.1: DATA may end the group; its reply tells whether to send the data. */
      if (!queue_envelope (job, job->total, recipients, cancellable, error) ||
          !queue_line (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
      if (!read_envelope_replies (job, recipients, cancellable, &envelope_error) &&
          !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED) &&
          !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_RECIPIENTS_REFUSED) &&
          !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_TEMPORARY))
        {
          g_propagate_error (error, g_steal_pointer (&envelope_error));
          return FALSE;
        }
    }
  else
    {
      if (!lockstep_envelope (job, job->total, recipients, cancellable, error) ||
          !send_line (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
    }

  go_ahead = read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (go_ahead == NULL)
    return FALSE;

  if (envelope_error != NULL)
    {
      /* A server that says 354 although nobody was accepted gets an empty message, which it
       * must refuse (RFC 2920 §3.1); then we report the envelope's failure. */
      if (dispatch_smtp_reply_get_code (go_ahead) == 354)
        {
          g_autoptr(DispatchSmtpReply) ignored = NULL;

          if (send_line (job, DISPATCH_SMTP_DATA_END, NULL, cancellable, NULL))
            ignored = read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, NULL);
        }
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }

  if (dispatch_smtp_reply_get_code (go_ahead) != 354)
    {
      set_reply_error (error, go_ahead, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_REFUSED, NULL,
                       _("The server refused to take the message (DATA)."));
      return FALSE;
    }

  if (!write_message (job, dispatch_smtp_connection_get_output (job->connection), TRUE, cancellable, error))
    return FALSE;
  if (!queue_line (job, DISPATCH_SMTP_DATA_END, NULL, cancellable, error))
    return FALSE;
  job->can_quit = TRUE;
  report_progress (job, job->total);

  /* The end of data may be followed by QUIT in the same flight (RFC 2920 §3.1). */
  if (pipelining)
    {
      set_state (job, DISPATCH_SMTP_STATE_QUITTING);
      if (!queue_line (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, error))
        return FALSE;
      job->quit_sent = TRUE;
    }

  final = read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (final == NULL)
    return FALSE;
  return check_final_reply (job, final, error);
}

/* MAIL, RCPT…, BDAT n, …, BDAT n LAST (RFC 3030): no dot-stuffing, and with PIPELINING a small
 * message leaves in the same flight as its envelope and the QUIT. */
static gboolean
transfer_with_bdat (Job                *job,
                    gboolean            pipelining,
                    const char * const *recipients,
                    GCancellable       *cancellable,
                    GError            **error)
{
  g_autoptr(DispatchBdatStream) bdat = NULL;
  g_autoptr(GError) envelope_error = NULL;
  g_autoptr(GError) data_error = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  gboolean one_flight = pipelining && job->total <= ONE_FLIGHT_MAX;
  g_autoptr(GError) write_error = NULL;

  if (!pipelining)
    {
      if (!lockstep_envelope (job, job->total, recipients, cancellable, error))
        return FALSE;
    }
  else
    {
      if (!queue_envelope (job, job->total, recipients, cancellable, error))
        return FALSE;
      /* A big upload waits for the envelope's verdict: one round trip is cheap next to
       * sending megabytes nobody will take. */
      if (!one_flight && !read_envelope_replies (job, recipients, cancellable, error))
        return FALSE;
    }

  bdat = g_object_new (DISPATCH_TYPE_BDAT_STREAM, NULL);
  bdat->job = job;
  bdat->chunk_size = pipelining ? CHUNK_PIPELINED : CHUNK_LOCKSTEP;
  bdat->lockstep = !pipelining;

  if (!write_message (job, G_OUTPUT_STREAM (bdat), FALSE, cancellable, &write_error) ||
      !bdat_send_chunk (bdat, TRUE, cancellable, &write_error))
    {
      if (bdat->reply_error != NULL)
        g_propagate_error (error, g_steal_pointer (&bdat->reply_error));
      else
        g_propagate_error (error, g_steal_pointer (&write_error));
      return FALSE;
    }
  job->can_quit = TRUE;
  report_progress (job, job->total);

  if (pipelining)
    {
      set_state (job, DISPATCH_SMTP_STATE_QUITTING);
      if (!queue_line (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, error))
        return FALSE;
      job->quit_sent = TRUE;
    }

  if (one_flight &&
      !read_envelope_replies (job, recipients, cancellable, &envelope_error) &&
      !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED) &&
      !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_RECIPIENTS_REFUSED) &&
      !g_error_matches (envelope_error, DISPATCH_ERROR, DISPATCH_ERROR_TEMPORARY))
    {
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }

  /* One reply per chunk still unanswered; the last one is the verdict on the message. */
  for (guint i = 0; i < bdat->n_chunks; i++)
    {
      g_autoptr(DispatchSmtpReply) reply = read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);

      if (reply == NULL)
        return FALSE;
      if (i + 1 < bdat->n_chunks)
        {
          if (dispatch_smtp_reply_get_class (reply) != 2 && data_error == NULL && envelope_error == NULL)
            check_final_reply (job, reply, &data_error);
        }
      else
        final = g_steal_pointer (&reply);
    }

  if (envelope_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }
  if (data_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&data_error));
      return FALSE;
    }
  return check_final_reply (job, final, error);
}

static gboolean
step_transaction (Job           *job,
                  GCancellable  *cancellable,
                  GError       **error)
{
  DispatchSmtpCapabilities *caps = job->capabilities;
  gboolean pipelining = dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_PIPELINING);
  gboolean chunking = dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_CHUNKING);
  guint64 max_size = dispatch_smtp_capabilities_get_max_size (caps);
  g_autoptr(GError) size_error = NULL;
  const char * const *recipients;

  set_state (job, DISPATCH_SMTP_STATE_SENDING_ENVELOPE);

  /* Built now that we know whether the server takes 8-bit text and UTF-8 addresses. */
  if (!dispatch_message_prepare (job->message,
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_8BITMIME),
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_SMTPUTF8),
                                 cancellable, error))
    return FALSE;

  job->total = dispatch_message_get_size (job->message, cancellable, &size_error);
  if (size_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&size_error));
      return FALSE;
    }

  /* RFC 1870: refusing up front costs nothing; uploading 25 MB to hear 552 costs minutes. */
  if (max_size > 0 && job->total > max_size)
    {
      g_autofree char *have = g_format_size (job->total);
      g_autofree char *limit = g_format_size (max_size);
      g_autofree char *hint = g_strdup_printf (_("The server accepts messages up to %s; send smaller "
                                                 "or fewer attachments."), limit);

      dispatch_set_error (error, DISPATCH_ERROR_MESSAGE_TOO_LARGE, DISPATCH_SMTP_STAGE_SENDER, NULL, hint,
                          /* Translators: both %s are sizes like "30.2 MB" */
                          _("The message (%s) is larger than the server accepts (%s); nothing was sent."),
                          have, limit);
      return FALSE;
    }

  recipients = dispatch_message_get_envelope_recipients (job->message);
  job->result->used_pipelining = pipelining;
  job->result->used_chunking = chunking;

  if (chunking)
    {
      if (!transfer_with_bdat (job, pipelining, recipients, cancellable, error))
        return FALSE;
    }
  else if (!transfer_with_data (job, pipelining, recipients, cancellable, error))
    return FALSE;

  job->result->bytes_sent = job->total;
  return TRUE;
}

/* After success, or to leave politely after a failure. A failure here changes nothing about a
 * message that was already accepted. */
static void
step_quit (Job          *job,
           gboolean      wait_for_reply,
           GCancellable *cancellable)
{
  if (job->connection == NULL || !dispatch_smtp_connection_is_connected (job->connection))
    return;

  if (job->can_quit)
    {
      set_state (job, DISPATCH_SMTP_STATE_QUITTING);
      if (!job->quit_sent)
        job->quit_sent = send_line (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, NULL);
      if (job->quit_sent && wait_for_reply)
        {
          /* Pipelined replies may still be on their way: read until 221, or give up. */
          for (guint i = 0; i < 64; i++)
            {
              g_autoptr(DispatchSmtpReply) reply = read_reply (job, DISPATCH_SMTP_STAGE_QUIT, cancellable, NULL);

              if (reply == NULL || dispatch_smtp_reply_get_code (reply) == 221)
                break;
            }
        }
    }
  dispatch_smtp_connection_close (job->connection);
}

static DispatchSmtpResult *
run (Job           *job,
     GCancellable  *cancellable,
     GError       **error)
{
  DispatchSmtpSecurity security = dispatch_account_get_security (job->account);
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  job->connection = dispatch_smtp_connection_new (on_transcript, job);
  job->result = result_new ();

  /* Bad input is found before a single byte goes out. The final build waits for EHLO. */
  ok = dispatch_account_validate (job->account, &local_error);
  if (ok && job->message != NULL)
    ok = dispatch_message_prepare (job->message, FALSE, TRUE, cancellable, &local_error);

  ok = ok && step_connect (job, cancellable, &local_error) &&
       step_hello (job, cancellable, &local_error) &&
       (security != DISPATCH_SMTP_SECURITY_STARTTLS || step_starttls (job, cancellable, &local_error)) &&
       (!wants_auth (job) || step_auth (job, cancellable, &local_error)) &&
       (job->message == NULL || step_transaction (job, cancellable, &local_error));

  if (ok)
    {
      job->result->tls_version = dispatch_smtp_connection_dup_tls_version (job->connection);
      job->result->tls_cipher = dispatch_smtp_connection_dup_tls_cipher (job->connection);
      job->result->server_domain = g_strdup (dispatch_smtp_capabilities_get_domain (job->capabilities));
      step_quit (job, TRUE, cancellable);
      set_state (job, DISPATCH_SMTP_STATE_DONE);
      return g_steal_pointer (&job->result);
    }

  /* Leave politely where the dialogue allows it, but do not make a cancelling user or a
   * silent server wait for the goodbye. */
  if (job->connection != NULL && dispatch_smtp_connection_is_connected (job->connection))
    {
      gboolean wait = !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_TIMEOUT) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_STARTTLS_INJECTION);

      dispatch_smtp_connection_set_timeout (job->connection,
                                            MIN (QUIT_TIMEOUT, dispatch_account_get_timeout (job->account)));
      step_quit (job, wait, NULL);
    }

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    info (job, "Cancelled");
  set_state (job, DISPATCH_SMTP_STATE_FAILED);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static void
worker (GTask        *task,
        gpointer      source_object,
        gpointer      task_data,
        GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;
  DispatchSmtpResult *result;

  result = run (job, cancellable, &error);

  /* Every event is posted; the session need not outlive the caller because of us. */
  g_clear_object (&job->session);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) dispatch_smtp_result_free);
}

/* The worker task's callback, on the caller's context: first every event still queued, then
 * the caller's own callback — so nobody sees "done" before the last transcript line. */
static void
on_worker_done (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DispatchSmtpSession *self = g_task_get_source_object (task);
  GError *error = NULL;
  DispatchSmtpResult *outcome;

  g_assert (source_object == NULL);

  dispatch_events (self);
  self->busy = FALSE;

  outcome = g_task_propagate_pointer (G_TASK (result), &error);
  if (outcome == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, outcome, (GDestroyNotify) dispatch_smtp_result_free);
}

static void
start (DispatchSmtpSession  *self,
       gpointer              source_tag,
       DispatchAccount      *account,
       const char           *password,
       const char           *oauth2_token,
       DispatchMessage      *message,
       GCancellable         *cancellable,
       GAsyncReadyCallback   callback,
       gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker_task = NULL;
  Job *job;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "A send is already running on this session");
      return;
    }
  self->busy = TRUE;

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  g_mutex_unlock (&self->lock);

  job = g_new0 (Job, 1);
  job->session = g_object_ref (self);
  job->account = dispatch_account_copy (account);
  job->message = message ? g_object_ref (message) : NULL;
  job->password = g_strdup (password);
  job->oauth2_token = g_strdup (oauth2_token);

  worker_task = g_task_new (NULL, cancellable, on_worker_done, g_steal_pointer (&task));
  g_task_set_source_tag (worker_task, start);
  g_task_set_task_data (worker_task, job, job_free);
  g_task_run_in_thread (worker_task, worker);
}

void
dispatch_smtp_session_send_async (DispatchSmtpSession  *self,
                                  DispatchAccount      *account,
                                  const char           *password,
                                  const char           *oauth2_token,
                                  DispatchMessage      *message,
                                  GCancellable         *cancellable,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data)
{
  g_return_if_fail (DISPATCH_IS_SMTP_SESSION (self));
  g_return_if_fail (DISPATCH_IS_ACCOUNT (account));
  g_return_if_fail (DISPATCH_IS_MESSAGE (message));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, dispatch_smtp_session_send_async, account, password, oauth2_token, message,
         cancellable, callback, user_data);
}

DispatchSmtpResult *
dispatch_smtp_session_send_finish (DispatchSmtpSession  *self,
                                   GAsyncResult         *result,
                                   GError              **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_smtp_session_send_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
dispatch_smtp_session_test_async (DispatchSmtpSession  *self,
                                  DispatchAccount      *account,
                                  const char           *password,
                                  const char           *oauth2_token,
                                  GCancellable         *cancellable,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data)
{
  g_return_if_fail (DISPATCH_IS_SMTP_SESSION (self));
  g_return_if_fail (DISPATCH_IS_ACCOUNT (account));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, dispatch_smtp_session_test_async, account, password, oauth2_token, NULL,
         cancellable, callback, user_data);
}

DispatchSmtpResult *
dispatch_smtp_session_test_finish (DispatchSmtpSession  *self,
                                   GAsyncResult         *result,
                                   GError              **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_smtp_session_test_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

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
#include "dispatch-smtp-session-private.h"

/* How long the replies to QUIT (and to anything still unanswered before it) may take. The
 * outcome is known by then; a server that answers QUIT with 503 and keeps the connection open
 * (Haraka, to a QUIT pipelined after the data) or not at all must not hold the user. */
#define QUIT_GRACE         2

/* ─── Result ─────────────────────────────────────────────────────────────────────────────── */

static void
recipient_free (gpointer data)
{
  DispatchSmtpRecipient *recipient = data;

  g_free (recipient->address);
  g_free (recipient->reply);
  g_free (recipient);
}

DispatchSmtpRecipient *
dispatch_smtp_recipient_new (const char *address,
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
      g_ptr_array_add (copy->accepted, dispatch_smtp_recipient_new (r->address, r->code, r->reply));
    }
  for (guint i = 0; i < result->refused->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (result->refused, i);
      g_ptr_array_add (copy->refused, dispatch_smtp_recipient_new (r->address, r->code, r->reply));
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

/* ─── The job: helpers the dialogue steps share with the transaction ────────────────────── */


static void
job_free (gpointer data)
{
  DispatchSmtpJob *job = data;

  g_clear_object (&job->connection);
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);
  g_clear_pointer (&job->result, dispatch_smtp_result_free);
  g_clear_pointer (&job->password, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (&job->oauth2_token, dispatch_smtp_auth_wipe_string);
  g_free (job->auth_pending);
  g_clear_object (&job->message);
  g_clear_object (&job->account);
  g_clear_object (&job->session);
  g_free (job);
}

void
dispatch_smtp_job_set_state (DispatchSmtpJob   *job,
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
  DispatchSmtpJob *job = user_data;
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_TRANSCRIPT;
  event->value = direction;
  event->text = g_utf8_make_valid (line, -1);
  post_event (job->session, event);
}

void
dispatch_smtp_job_info (DispatchSmtpJob *job,
                        const char      *format,
                        ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  on_transcript (DISPATCH_SMTP_DIRECTION_INFO, line, job);
}

void
dispatch_smtp_job_progress (DispatchSmtpJob *job,
                            guint64          sent)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_PROGRESS;
  event->sent = MIN (sent, job->total);
  event->total = job->total;
  post_event (job->session, event);
}

void
dispatch_smtp_job_recipient (DispatchSmtpJob *job,
                             const char      *address,
                             guint            code,
                             const char      *reply)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_RECIPIENT;
  event->text = g_strdup (address);
  event->value = code;
  event->reply = g_strdup (reply);
  post_event (job->session, event);
}

const char *
dispatch_smtp_job_host (DispatchSmtpJob *job)
{
  return dispatch_account_get_host (job->account);
}

/* ─── Turning replies into errors ───────────────────────────────────────────────────────── */

/* A 4xx is always "try again later"; a 5xx is the caller's @permanent class. */
void
dispatch_smtp_job_set_reply_error (GError                  **error,
                                   const DispatchSmtpReply  *reply,
                                   DispatchSmtpStage         stage,
                                   DispatchError             permanent,
                                   const char               *hint,
                                   const char               *format,
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

DispatchSmtpReply *
dispatch_smtp_job_read_reply (DispatchSmtpJob    *job,
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
check_wire (DispatchSmtpJob  *job,
            gboolean          ok,
            GError           *local_error,
            GError          **error)
{
  if (!ok)
    {
      /* A broken wire cannot carry a QUIT; one that brought a reply to no command cannot
       * be trusted to carry it to the right place. */
      if (g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST) ||
          g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL))
        job->can_quit = FALSE;
      g_propagate_error (error, local_error);
    }
  return ok;
}

/* Queues a command for the next flight; @shown replaces it in the transcript (AUTH). */
gboolean
dispatch_smtp_job_queue (DispatchSmtpJob  *job,
                         const char       *line,
                         const char       *shown,
                         GCancellable     *cancellable,
                         GError          **error)
{
  GError *local_error = NULL;
  /* Called first: the arguments of one call are evaluated in no fixed order. */
  gboolean ok = dispatch_smtp_connection_queue (job->connection, line, shown, cancellable, &local_error);

  return check_wire (job, ok, local_error, error);
}

gboolean
dispatch_smtp_job_send (DispatchSmtpJob  *job,
                        const char       *line,
                        const char       *shown,
                        GCancellable     *cancellable,
                        GError          **error)
{
  GError *local_error = NULL;
  gboolean ok;

  if (!dispatch_smtp_job_queue (job, line, shown, cancellable, error))
    return FALSE;
  ok = dispatch_smtp_connection_flush (job->connection, cancellable, &local_error);
  return check_wire (job, ok, local_error, error);
}

static gboolean
step_connect (DispatchSmtpJob  *job,
              GCancellable     *cancellable,
              GError          **error)
{
  DispatchSmtpSecurity security = dispatch_account_get_security (job->account);
  g_autoptr(DispatchSmtpReply) greeting = NULL;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_CONNECTING);

  dispatch_smtp_connection_set_timeout (job->connection, dispatch_account_get_timeout (job->account));
  dispatch_smtp_connection_set_trust (job->connection,
                                      dispatch_account_get_ca_file (job->account),
                                      dispatch_account_get_pinned_sha256 (job->account));

  if (security == DISPATCH_SMTP_SECURITY_STARTTLS)
    dispatch_smtp_connection_prepare_tls (job->connection);

  if (!dispatch_smtp_connection_connect (job->connection, dispatch_smtp_job_host (job),
                                         dispatch_account_get_effective_port (job->account),
                                         security == DISPATCH_SMTP_SECURITY_TLS,
                                         cancellable, error))
    return FALSE;

  greeting = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_GREETING, cancellable, error);
  if (greeting == NULL)
    return FALSE;
  job->can_quit = TRUE;

  if (dispatch_smtp_reply_get_code (greeting) != 220)
    {
      /* 554 means "no SMTP service here" and the server waits only for QUIT (RFC 5321 §3.1);
       * 421 means it is closing. Either way the mail cannot go through this server now. */
      dispatch_smtp_job_set_reply_error (error, greeting, DISPATCH_SMTP_STAGE_GREETING, DISPATCH_ERROR_UNAVAILABLE,
                       _("The server does not accept mail from you at the moment; check the server "
                         "name, or try again later."),
                       /* Translators: %s is a server name */
                       _("%s refused the connection."), dispatch_smtp_job_host (job));
      if (dispatch_smtp_reply_get_code (greeting) == 421)
        job->can_quit = FALSE;
      return FALSE;
    }
  return TRUE;
}

/* RFC 5321 §4.1.4: the EHLO argument is our FQDN or, lacking one, our address literal. */
static char *
ehlo_name (DispatchSmtpJob *job)
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
step_hello (DispatchSmtpJob  *job,
            GCancellable     *cancellable,
            GError          **error)
{
  g_autofree char *name = ehlo_name (job);
  g_autofree char *ehlo = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  guint code;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_HELLO);
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);

  ehlo = dispatch_smtp_command_ehlo (name, error);
  if (ehlo == NULL)
    {
      g_prefix_error (error, _("The name to introduce this computer with is not valid: "));
      return FALSE;
    }
  if (!dispatch_smtp_job_send (job, ehlo, NULL, cancellable, error))
    return FALSE;
  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
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
      if (helo == NULL || !dispatch_smtp_job_send (job, helo, NULL, cancellable, error))
        return FALSE;
      reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
      if (reply == NULL)
        return FALSE;
      if (dispatch_smtp_reply_get_code (reply) == 250)
        {
          job->capabilities = dispatch_smtp_capabilities_new_empty ();
          return TRUE;
        }
    }

  dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_HELLO, DISPATCH_ERROR_UNAVAILABLE,
                   _("The server may not accept this computer's name; set another one in the "
                     "account settings."),
                   /* Translators: %s is a server name */
                   _("%s refused the introduction (EHLO)."), dispatch_smtp_job_host (job));
  return FALSE;
}

static gboolean
step_starttls (DispatchSmtpJob  *job,
               GCancellable     *cancellable,
               GError          **error)
{
  g_autoptr(DispatchSmtpReply) reply = NULL;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SECURING);

  /* No silent downgrade: the user asked for encryption, and a server (or someone in between)
   * that does not offer it gets nothing. */
  if (!dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_STARTTLS))
    {
      dispatch_set_error (error, DISPATCH_ERROR_TLS_NOT_OFFERED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Nothing was sent. Use TLS (usually port 465) if the server offers "
                            "it; choose no encryption only for a server on a network you trust."),
                          /* Translators: %s is a server name */
                          _("%s does not offer STARTTLS, so the connection cannot be encrypted."),
                          dispatch_smtp_job_host (job));
      return FALSE;
    }

  if (!dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_STARTTLS, NULL, cancellable, error))
    return FALSE;
  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_TLS, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (dispatch_smtp_reply_get_code (reply) != 220)
    {
      dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_TLS, DISPATCH_ERROR_TLS_FAILED, NULL,
                       _("%s refused to start encryption."), dispatch_smtp_job_host (job));
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
wants_auth (DispatchSmtpJob *job)
{
  const char *user = dispatch_account_get_user (job->account);

  return (user != NULL && *user != '\0') || job->oauth2_token != NULL;
}

/* The error for a reply that ended the sign-in without success. @server_error: what an
 * XOAUTH2 server said about the token, or NULL. */
static void
set_auth_error (DispatchSmtpJob    *job,
                DispatchSmtpReply  *reply,
                const char         *server_error,
                GError            **error)
{
  const char *user = dispatch_account_get_user (job->account);
  const char *host = dispatch_smtp_job_host (job);

  if (dispatch_smtp_reply_get_code (reply) == 530 && !dispatch_smtp_connection_is_encrypted (job->connection))
    dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                     _("The server wants an encrypted connection first: choose STARTTLS or TLS."),
                     _("%s refused the sign-in."), host);
  else if (server_error != NULL)
    {
      g_autofree char *hint = g_strdup_printf (_("The access token was refused (%s); get a new one."),
                                               server_error);
      dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                       hint, _("%s refused the sign-in."), host);
    }
  else
    dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                     dispatch_error_auth_hint (host),
                     /* Translators: first %s is the user name, second a server name */
                     _("The sign-in as %s was refused by %s."), user ? user : "", host);
}

/* With PIPELINING, an AUTH that completes in one reply need not wait for it: the transaction
 * follows in the same flight (RFC 4954 §4) and reads the reply first. Only when there is a
 * transaction to follow — a connection test has nothing to gain. */
static gboolean
can_pipeline_auth (DispatchSmtpJob *job,
                   const char      *mechanism,
                   gboolean         has_initial_response)
{
  return job->message != NULL && has_initial_response && !job->lockstep &&
         dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_PIPELINING) &&
         dispatch_smtp_auth_completes_at_once (mechanism);
}

static gboolean
step_auth (DispatchSmtpJob  *job,
           GCancellable     *cancellable,
           GError          **error)
{
  gboolean encrypted = dispatch_smtp_connection_is_encrypted (job->connection);
  const char *user = dispatch_account_get_user (job->account);
  const char *mechanism;
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autofree char *command = NULL;
  g_autofree char *shown = NULL;
  gboolean pipelined;
  gboolean sent;
  char *initial;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_AUTHENTICATING);

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
                          _("%s does not offer sign-in (AUTH)."), dispatch_smtp_job_host (job));
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
  pipelined = can_pipeline_auth (job, mechanism, initial != NULL);
  g_clear_pointer (&initial, dispatch_smtp_auth_wipe_string);
  if (command == NULL)
    return FALSE;

  sent = pipelined ? dispatch_smtp_job_queue (job, command, shown, cancellable, error)
                   : dispatch_smtp_job_send (job, command, shown, cancellable, error);
  g_clear_pointer (&command, dispatch_smtp_auth_wipe_string);
  if (!sent)
    return FALSE;
  if (pipelined)
    {
      job->auth_pending = g_strdup (mechanism);
      return TRUE;
    }

  for (guint round = 0; ; round++)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, error);
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
          set_auth_error (job, reply, dispatch_smtp_auth_get_server_error (auth), error);
          return FALSE;
        }

      /* A server that keeps challenging forever is not authenticating anyone. */
      if (round >= 8)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH, NULL, NULL,
                              _("%s sent too many authentication challenges."), dispatch_smtp_job_host (job));
          job->can_quit = FALSE;
          return FALSE;
        }

      answer = dispatch_smtp_auth_step (auth, dispatch_smtp_reply_get_lines (reply)[0], error);
      if (answer == NULL)
        {
          /* "*" cancels the exchange (RFC 4954 §4) so the dialogue stays in step. */
          dispatch_smtp_job_send (job, "*\r\n", NULL, cancellable, NULL);
          g_clear_pointer (&reply, dispatch_smtp_reply_unref);
          reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, NULL);
          return FALSE;
        }
      line = g_strconcat (answer, "\r\n", NULL);
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&answer));
      if (!dispatch_smtp_job_send (job, line, DISPATCH_SMTP_REDACTED, cancellable, error))
        {
          dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
          return FALSE;
        }
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
    }
}

gboolean
dispatch_smtp_job_finish_auth (DispatchSmtpJob  *job,
                               GCancellable     *cancellable,
                               GError          **error)
{
  g_autofree char *mechanism = g_steal_pointer (&job->auth_pending);
  g_autoptr(DispatchSmtpReply) reply = NULL;

  if (mechanism == NULL)
    return TRUE;

  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, error);
  if (reply == NULL)
    return FALSE;

  switch (dispatch_smtp_reply_get_code (reply))
    {
    case 235:
      job->result->auth_mechanism = g_steal_pointer (&mechanism);
      return TRUE;

    case 334:
      {
        /* It took the next command for an answer: nothing after this can be trusted. */
        g_autofree char *wire = dispatch_smtp_reply_to_string (reply);

        job->can_quit = FALSE;
        dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH, wire, NULL,
                            /* Translators: %s is a server name */
                            _("%s asked for more after a complete sign-in."), dispatch_smtp_job_host (job));
        return FALSE;
      }

    default:
      set_auth_error (job, reply, NULL, error);
      return FALSE;
    }
}

/* After success, or to leave politely after a failure. A failure here changes nothing about a
 * message that was already accepted. */
static void
step_quit (DispatchSmtpJob *job,
           gboolean         wait_for_reply,
           GCancellable    *cancellable)
{
  if (job->connection == NULL || !dispatch_smtp_connection_is_connected (job->connection))
    return;

  if (job->can_quit)
    {
      dispatch_smtp_connection_set_timeout (job->connection,
                                            MIN (QUIT_GRACE, dispatch_account_get_timeout (job->account)));
      dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_QUITTING);
      if (!job->quit_sent)
        job->quit_sent = dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, NULL);

      /* The replies still due end with the one to QUIT; whatever that one says — 221, or 503
       * from a server that wanted QUIT on its own — the session is over. Silence for the grace
       * period ends it too. */
      while (job->quit_sent && wait_for_reply && dispatch_smtp_connection_get_n_awaited (job->connection) > 0)
        {
          g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_QUIT, cancellable, NULL);

          if (reply == NULL)
            break;
        }
    }
  dispatch_smtp_connection_close (job->connection);
}

static gboolean
dialogue (DispatchSmtpJob  *job,
          GCancellable     *cancellable,
          GError          **error)
{
  DispatchSmtpSecurity security = dispatch_account_get_security (job->account);

  return step_connect (job, cancellable, error) &&
         step_hello (job, cancellable, error) &&
         (security != DISPATCH_SMTP_SECURITY_STARTTLS || step_starttls (job, cancellable, error)) &&
         (!wants_auth (job) || step_auth (job, cancellable, error)) &&
         (job->message == NULL || dispatch_smtp_job_transaction (job, cancellable, error));
}

static DispatchSmtpResult *
run (DispatchSmtpJob  *job,
     GCancellable     *cancellable,
     GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  job->connection = dispatch_smtp_connection_new (on_transcript, job);
  job->result = result_new ();

  /* Bad input is found before a single byte goes out. The final build waits for EHLO. */
  ok = dispatch_account_validate (job->account, &local_error);
  if (ok && job->message != NULL)
    ok = dispatch_message_prepare (job->message, FALSE, TRUE, cancellable, &local_error);

  ok = ok && dialogue (job, cancellable, &local_error);

  /* A server stricter than RFC 2920 refused commands sent together; nothing was delivered.
   * The same send in lock-step is what the user asked for, so it is done at once, on a new
   * connection: the old one may already carry a QUIT. */
  if (!ok && job->pipelining_refused && !job->lockstep &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      dispatch_smtp_job_info (job, "The server refused commands sent together (PIPELINING); "
                                   "sending again one command at a time");
      step_quit (job, TRUE, NULL);
      g_clear_error (&local_error);
      g_clear_pointer (&job->result, dispatch_smtp_result_free);
      g_clear_pointer (&job->auth_pending, g_free);
      job->result = result_new ();
      job->lockstep = TRUE;
      job->quit_sent = FALSE;
      job->can_quit = FALSE;
      ok = dialogue (job, cancellable, &local_error);
    }

  if (ok)
    {
      job->result->tls_version = dispatch_smtp_connection_dup_tls_version (job->connection);
      job->result->tls_cipher = dispatch_smtp_connection_dup_tls_cipher (job->connection);
      job->result->server_domain = g_strdup (dispatch_smtp_capabilities_get_domain (job->capabilities));
      step_quit (job, TRUE, cancellable);
      dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_DONE);
      return g_steal_pointer (&job->result);
    }

  /* Leave politely where the dialogue allows it, but do not make a cancelling user or a
   * silent server wait for the goodbye. */
  if (job->connection != NULL && dispatch_smtp_connection_is_connected (job->connection))
    {
      gboolean wait = !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_TIMEOUT) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_STARTTLS_INJECTION);

      step_quit (job, wait, NULL);
    }

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    dispatch_smtp_job_info (job, "Cancelled");
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_FAILED);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static void
worker (GTask        *task,
        gpointer      source_object,
        gpointer      task_data,
        GCancellable *cancellable)
{
  DispatchSmtpJob *job = task_data;
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
start (DispatchSmtpSession *self,
       gpointer             source_tag,
       DispatchAccount     *account,
       const char          *password,
       const char          *oauth2_token,
       DispatchMessage     *message,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker_task = NULL;
  DispatchSmtpJob *job;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  /* Once the server has accepted the message, a Cancel that comes during QUIT must not turn
   * "sent" into "cancelled" (a retry would send it twice): the worker's verdict stands. */
  g_task_set_check_cancellable (task, FALSE);

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

  job = g_new0 (DispatchSmtpJob, 1);
  job->session = g_object_ref (self);
  job->account = dispatch_account_copy (account);
  job->message = message ? g_object_ref (message) : NULL;
  job->password = g_strdup (password);
  job->oauth2_token = g_strdup (oauth2_token);

  worker_task = g_task_new (NULL, cancellable, on_worker_done, g_steal_pointer (&task));
  g_task_set_source_tag (worker_task, start);
  g_task_set_check_cancellable (worker_task, FALSE);
  g_task_set_task_data (worker_task, job, job_free);
  g_task_run_in_thread (worker_task, worker);
}

void
dispatch_smtp_session_send_async (DispatchSmtpSession *self,
                                  DispatchAccount     *account,
                                  const char          *password,
                                  const char          *oauth2_token,
                                  DispatchMessage     *message,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
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
dispatch_smtp_session_test_async (DispatchSmtpSession *self,
                                  DispatchAccount     *account,
                                  const char          *password,
                                  const char          *oauth2_token,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
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

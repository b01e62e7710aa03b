/* dispatch-smtp-job.c — one operation's context, and its events' way back to the caller.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything the worker wants the caller to know goes through a queue and is delivered on the
 * caller's main context, in order; the session turns each event into a signal.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-job.h"

struct _DispatchSmtpJob
{
  /* what to do: set at creation, read-only after */
  DispatchAccount          *account;      /* a private copy: the caller may edit theirs */
  DispatchMessage          *message;      /* NULL for a connection test */
  char                     *password;     /* wiped when freed */
  char                     *oauth2_token; /* wiped when freed */
  GCancellable             *cancellable;

  /* the worker's */
  DispatchSmtpConnection   *connection;
  DispatchSmtpCapabilities *capabilities;
  DispatchSmtpResult       *result;
  guint64                   total;
  gboolean                  can_quit;
  gboolean                  quit_sent;

  /* shared between the worker and the caller's context, under lock */
  GMutex                    lock;
  GQueue                    events;       /* (element-type DispatchSmtpEvent) */
  GSource                  *dispatch_source;
  GMainContext             *context;
  GObject                  *target;
  DispatchSmtpEventFunc     emit;
};

static void
event_free (gpointer data)
{
  DispatchSmtpEvent *event = data;

  g_free (event->text);
  g_free (event->reply);
  g_free (event);
}

static void
on_line (DispatchSmtpLineKind  kind,
         const char           *line,
         gpointer              user_data);

DispatchSmtpJob *
dispatch_smtp_job_new (DispatchAccount       *account,
                       const char            *password,
                       const char            *oauth2_token,
                       DispatchMessage       *message,
                       GCancellable          *cancellable,
                       GObject               *target,
                       DispatchSmtpEventFunc  emit)
{
  DispatchSmtpJob *job = g_atomic_rc_box_new0 (DispatchSmtpJob);

  job->account = dispatch_account_copy (account);
  job->message = message ? g_object_ref (message) : NULL;
  job->password = g_strdup (password);
  job->oauth2_token = g_strdup (oauth2_token);
  job->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  job->connection = dispatch_smtp_connection_new (on_line, job);
  job->result = dispatch_smtp_result_new ();

  g_mutex_init (&job->lock);
  g_queue_init (&job->events);
  job->context = g_main_context_ref_thread_default ();
  job->target = g_object_ref (target);
  job->emit = emit;
  return job;
}

DispatchSmtpJob *
dispatch_smtp_job_ref (DispatchSmtpJob *job)
{
  return g_atomic_rc_box_acquire (job);
}

static void
job_clear (gpointer data)
{
  DispatchSmtpJob *job = data;

  /* Pending sources hold a reference, so by now the queue has been delivered. */
  g_queue_clear_full (&job->events, event_free);
  g_mutex_clear (&job->lock);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_object (&job->target);

  g_clear_object (&job->connection);
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);
  g_clear_pointer (&job->result, dispatch_smtp_result_free);
  g_clear_pointer (&job->password, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (&job->oauth2_token, dispatch_smtp_auth_wipe_string);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->message);
  g_clear_object (&job->account);
}

void
dispatch_smtp_job_unref (DispatchSmtpJob *job)
{
  g_atomic_rc_box_release_full (job, job_clear);
}

/* ─── Events: from the worker to the caller's main context ──────────────────────────────── */

/* Runs on the caller's context: emits everything queued so far, oldest first. */
static gboolean
deliver_events (gpointer user_data)
{
  DispatchSmtpJob *job = user_data;
  GQueue pending = G_QUEUE_INIT;
  DispatchSmtpEvent *event;

  g_mutex_lock (&job->lock);
  pending = job->events;
  g_queue_init (&job->events);
  if (job->dispatch_source != NULL)
    {
      /* Called directly to flush: the idle must not run again later. */
      g_source_destroy (job->dispatch_source);
      g_clear_pointer (&job->dispatch_source, g_source_unref);
    }
  g_mutex_unlock (&job->lock);

  while ((event = g_queue_pop_head (&pending)) != NULL)
    {
      if (job->target != NULL)
        job->emit (job->target, event);
      event_free (event);
    }

  return G_SOURCE_REMOVE;
}

void
dispatch_smtp_job_finish_events (DispatchSmtpJob *job)
{
  deliver_events (job);
  /* Nothing more will come: the target need not live as long as the job. */
  g_clear_object (&job->target);
}

/* Called from the worker. Progress events coalesce: a slow main loop sees the latest figure,
 * not a backlog of thousands. */
static void
post_event (DispatchSmtpJob   *job,
            DispatchSmtpEvent *event)
{
  DispatchSmtpEvent *tail;

  g_mutex_lock (&job->lock);

  tail = g_queue_peek_tail (&job->events);
  if (event->kind == DISPATCH_SMTP_EVENT_PROGRESS && tail != NULL && tail->kind == DISPATCH_SMTP_EVENT_PROGRESS)
    {
      tail->sent = event->sent;
      tail->total = event->total;
      event_free (event);
    }
  else
    g_queue_push_tail (&job->events, event);

  if (job->dispatch_source == NULL)
    {
      job->dispatch_source = g_idle_source_new ();
      g_source_set_priority (job->dispatch_source, G_PRIORITY_DEFAULT);
      g_source_set_callback (job->dispatch_source, deliver_events,
                             dispatch_smtp_job_ref (job), (GDestroyNotify) dispatch_smtp_job_unref);
      g_source_set_static_name (job->dispatch_source, "[dispatch] session events");
      g_source_attach (job->dispatch_source, job->context);
    }

  g_mutex_unlock (&job->lock);
}

void
dispatch_smtp_job_set_state (DispatchSmtpJob   *job,
                             DispatchSmtpState  state)
{
  DispatchSmtpEvent *event = g_new0 (DispatchSmtpEvent, 1);

  event->kind = DISPATCH_SMTP_EVENT_STATE;
  event->value = state;
  post_event (job, event);
}

static void
post_transcript (DispatchSmtpJob       *job,
                 DispatchSmtpDirection  direction,
                 const char            *line)
{
  DispatchSmtpEvent *event = g_new0 (DispatchSmtpEvent, 1);

  event->kind = DISPATCH_SMTP_EVENT_TRANSCRIPT;
  event->value = direction;
  event->text = g_utf8_make_valid (line, -1);
  post_event (job, event);
}

static void
on_line (DispatchSmtpLineKind  kind,
         const char           *line,
         gpointer              user_data)
{
  DispatchSmtpDirection direction;

  switch (kind)
    {
    case DISPATCH_SMTP_LINE_SENT:
      direction = DISPATCH_SMTP_DIRECTION_CLIENT;
      break;
    case DISPATCH_SMTP_LINE_RECEIVED:
      direction = DISPATCH_SMTP_DIRECTION_SERVER;
      break;
    case DISPATCH_SMTP_LINE_NOTE:
    default:
      direction = DISPATCH_SMTP_DIRECTION_INFO;
      break;
    }
  post_transcript (user_data, direction, line);
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
  post_transcript (job, DISPATCH_SMTP_DIRECTION_INFO, line);
}

void
dispatch_smtp_job_set_total (DispatchSmtpJob *job,
                             guint64          total)
{
  job->total = total;
}

guint64
dispatch_smtp_job_get_total (DispatchSmtpJob *job)
{
  return job->total;
}

void
dispatch_smtp_job_progress (DispatchSmtpJob *job,
                            guint64          sent)
{
  DispatchSmtpEvent *event = g_new0 (DispatchSmtpEvent, 1);

  event->kind = DISPATCH_SMTP_EVENT_PROGRESS;
  event->sent = MIN (sent, job->total);
  event->total = job->total;
  post_event (job, event);
}

void
dispatch_smtp_job_recipient (DispatchSmtpJob *job,
                             const char      *address,
                             guint            code,
                             const char      *reply)
{
  DispatchSmtpEvent *event = g_new0 (DispatchSmtpEvent, 1);

  event->kind = DISPATCH_SMTP_EVENT_RECIPIENT;
  event->text = g_strdup (address);
  event->value = code;
  event->reply = g_strdup (reply);
  post_event (job, event);
}

/* ─── What the operation is about ───────────────────────────────────────────────────────── */

DispatchAccount *
dispatch_smtp_job_get_account (DispatchSmtpJob *job)
{
  return job->account;
}

DispatchMessage *
dispatch_smtp_job_get_message (DispatchSmtpJob *job)
{
  return job->message;
}

const char *
dispatch_smtp_job_get_password (DispatchSmtpJob *job)
{
  return job->password;
}

const char *
dispatch_smtp_job_get_oauth2_token (DispatchSmtpJob *job)
{
  return job->oauth2_token;
}

GCancellable *
dispatch_smtp_job_get_cancellable (DispatchSmtpJob *job)
{
  return job->cancellable;
}

const char *
dispatch_smtp_job_get_host (DispatchSmtpJob *job)
{
  return dispatch_account_get_host (job->account);
}

DispatchSmtpConnection *
dispatch_smtp_job_get_connection (DispatchSmtpJob *job)
{
  return job->connection;
}

DispatchSmtpCapabilities *
dispatch_smtp_job_get_capabilities (DispatchSmtpJob *job)
{
  return job->capabilities;
}

void
dispatch_smtp_job_take_capabilities (DispatchSmtpJob          *job,
                                     DispatchSmtpCapabilities *capabilities)
{
  g_clear_pointer (&job->capabilities, dispatch_smtp_capabilities_free);
  job->capabilities = capabilities;
}

DispatchSmtpResult *
dispatch_smtp_job_get_result (DispatchSmtpJob *job)
{
  return job->result;
}

DispatchSmtpResult *
dispatch_smtp_job_steal_result (DispatchSmtpJob *job)
{
  return g_steal_pointer (&job->result);
}

void
dispatch_smtp_job_restart (DispatchSmtpJob *job)
{
  g_clear_pointer (&job->result, dispatch_smtp_result_free);
  job->result = dispatch_smtp_result_new ();
  job->quit_sent = FALSE;
  job->can_quit = FALSE;
}

/* ─── The wire ──────────────────────────────────────────────────────────────────────────── */

/* A broken wire cannot carry a QUIT; one that brought a reply to no command cannot be trusted
 * to carry it to the right place. */
static void
note_wire_error (DispatchSmtpJob *job,
                 const GError    *error)
{
  if (g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST) ||
      g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL))
    job->can_quit = FALSE;
}

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
      note_wire_error (job, local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return reply;
}

static gboolean
check_wire (DispatchSmtpJob  *job,
            gboolean          ok,
            GError           *local_error,
            GError          **error)
{
  if (!ok)
    {
      note_wire_error (job, local_error);
      g_propagate_error (error, local_error);
    }
  return ok;
}

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

gboolean
dispatch_smtp_job_get_can_quit (DispatchSmtpJob *job)
{
  return job->can_quit;
}

void
dispatch_smtp_job_set_can_quit (DispatchSmtpJob *job,
                                gboolean         can_quit)
{
  job->can_quit = can_quit;
}

gboolean
dispatch_smtp_job_get_quit_sent (DispatchSmtpJob *job)
{
  return job->quit_sent;
}

void
dispatch_smtp_job_set_quit_sent (DispatchSmtpJob *job,
                                 gboolean         quit_sent)
{
  job->quit_sent = quit_sent;
}

/* ─── Turning replies into errors ───────────────────────────────────────────────────────── */

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

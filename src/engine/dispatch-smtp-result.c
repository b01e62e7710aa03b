/* dispatch-smtp-result.c — the outcome of a send: who was accepted, who refused, and how.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "dispatch-smtp-result.h"

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

void
dispatch_smtp_recipient_free (DispatchSmtpRecipient *recipient)
{
  if (recipient == NULL)
    return;

  g_free (recipient->address);
  g_free (recipient->reply);
  g_free (recipient);
}

DispatchSmtpResult *
dispatch_smtp_result_new (void)
{
  DispatchSmtpResult *result = g_new0 (DispatchSmtpResult, 1);

  result->accepted = g_ptr_array_new_with_free_func ((GDestroyNotify) dispatch_smtp_recipient_free);
  result->refused = g_ptr_array_new_with_free_func ((GDestroyNotify) dispatch_smtp_recipient_free);
  return result;
}

DispatchSmtpResult *
dispatch_smtp_result_copy (const DispatchSmtpResult *result)
{
  DispatchSmtpResult *copy;

  g_return_val_if_fail (result != NULL, NULL);

  copy = dispatch_smtp_result_new ();
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

"""The portal's pages, mounted at /portal/."""

from django.urls import path

from aybiza.portal.views import (
    accounts,
    agents,
    alerts,
    api_keys,
    calls,
    campaigns,
    compliance,
    contacts,
    documents,
    home,
    numbers,
    suggestions,
    team,
    tools,
    versions,
)

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", accounts.login, name="login"),
    path("logout/", accounts.logout, name="logout"),
    path("password/", accounts.password_change, name="password-change"),
    path("password/reset/", accounts.password_reset, name="password-reset"),
    path("password/reset/sent/", accounts.password_reset_done, name="password-reset-done"),
    path("password/reset/<uidb64>/<token>/", accounts.password_reset_confirm,
         name="password-reset-confirm"),
    path("password/reset/done/", accounts.password_reset_complete,
         name="password-reset-complete"),
    path("switch/", accounts.switch_tenant, name="switch-tenant"),
    path("agents/", agents.agent_index, name="agents"),
    path("agents/new/", agents.agent_new, name="agent-new"),
    path("agents/<int:pk>/", agents.agent_edit, name="agent-edit"),
    path("agents/<int:pk>/sample.wav", agents.agent_sample, name="agent-sample"),
    path("agents/<int:pk>/talk/", agents.agent_talk, name="agent-talk"),
    path("agents/<int:pk>/documents/", documents.agent_documents, name="agent-documents"),
    path("agents/<int:pk>/suggestions/", suggestions.agent_suggestions,
         name="agent-suggestions"),
    path("agents/<int:pk>/suggestions/run/", suggestions.agent_learn, name="agent-learn"),
    path("agents/<int:pk>/suggestions/<int:suggestion_pk>/", suggestions.suggestion_decide,
         name="suggestion-decide"),
    path("agents/<int:pk>/documents/<int:document_pk>/delete/", documents.agent_document_delete,
         name="agent-document-delete"),
    path("agents/<int:pk>/versions/", versions.agent_versions, name="agent-versions"),
    path("agents/<int:pk>/publish/", versions.agent_publish_view, name="agent-publish"),
    path("agents/<int:pk>/rollout/stop/", versions.agent_rollout_stop_view,
         name="agent-rollout-stop"),
    path("agents/<int:pk>/versions/<int:number>/rollback/", versions.agent_rollback_view,
         name="agent-rollback"),
    path("calls/", calls.call_index, name="calls"),
    path("compliance/erasure-requests/<int:pk>/", compliance.erasure_request_decide_view,
         name="erasure-request-decide"),
    path("alerts/", alerts.alert_index, name="alerts"),
    path("alerts/new/", alerts.alert_new, name="alert-new"),
    path("alerts/<int:pk>/", alerts.alert_edit, name="alert-edit"),
    path("alerts/<int:pk>/delete/", alerts.alert_delete, name="alert-delete"),
    path("calls/<int:pk>/", calls.call_detail, name="call-detail"),
    path("campaigns/", campaigns.campaign_index, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/control/", campaigns.campaign_control, name="campaign-control"),
    path("campaigns/<int:pk>/rows/", campaigns.campaign_add_rows, name="campaign-rows"),
    path("campaigns/<int:pk>/export.csv", campaigns.campaign_export, name="campaign-export"),
    path("do-not-call/", campaigns.do_not_call, name="do-not-call"),
    path("do-not-call/<int:pk>/remove/", campaigns.do_not_call_remove,
         name="do-not-call-remove"),
    path("contacts/", contacts.contact_index, name="contacts"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/forget/", contacts.contact_forget, name="contact-forget"),
    path("numbers/", numbers.number_index, name="numbers"),
    path("numbers/new/", numbers.number_new, name="number-new"),
    path("numbers/<int:pk>/", numbers.number_edit, name="number-edit"),
    path("api-keys/", api_keys.api_key_index, name="api-keys"),
    path("api-keys/new/", api_keys.api_key_new, name="api-key-new"),
    path("api-keys/<int:pk>/revoke/", api_keys.api_key_revoke_view, name="api-key-revoke"),
]

urlpatterns += [
    path("tools/", tools.tool_index, name="tools"),
    path("tools/new/", tools.tool_new, name="tool-new"),
    path("tools/<int:pk>/", tools.tool_edit, name="tool-edit"),
    path("tools/<int:pk>/try/", tools.tool_try, name="tool-try"),
]

urlpatterns += [
    path("team/", team.team_index, name="team"),
    path("team/invite/", team.team_invite, name="team-invite"),
    path("team/members/<int:pk>/role/", team.member_role, name="member-role"),
    path("team/members/<int:pk>/remove/", team.member_remove, name="member-remove"),
    path("team/invitations/<int:pk>/revoke/", team.invitation_revoke_view,
         name="invitation-revoke"),
    # Public: the token in the link is the credential (a hash of it is stored).
    path("invitations/<str:token>/", team.invitation_accept_view, name="invitation-accept"),
]

urlpatterns += [
    path("compliance/", compliance.compliance_index, name="compliance"),
    path("compliance/retention/", compliance.retention_update, name="retention-update"),
    path("compliance/subject/", compliance.subject_request, name="subject-request"),
]

//! Authorization: one pure function, `(subject, action, resource) → allow/deny`, that every
//! route calls. Roles are held within an agency; national roles with none. A bearer token may
//! narrow what its account can do to the token's scopes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Citizen,
    Business,
    Official,
    /// Another system, authenticated as an OAuth2 client (client credentials).
    Machine,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Citizen => "citizen",
            AccountKind::Business => "business",
            AccountKind::Official => "official",
            AccountKind::Machine => "machine",
        }
    }
    pub fn parse(s: &str) -> Option<AccountKind> {
        match s {
            "citizen" => Some(AccountKind::Citizen),
            "business" => Some(AccountKind::Business),
            "official" => Some(AccountKind::Official),
            _ => None,
        }
    }
}

/// Roles of officials.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Bộ phận tiếp nhận và trả kết quả: the one-stop desk.
    Reception,
    /// Chuyên viên: handles dossiers in a department.
    Specialist,
    /// Trưởng phòng.
    DepartmentHead,
    /// Lãnh đạo cơ quan: signs results.
    AgencyLeader,
    /// Quản trị cơ quan: manages the agency's officials and settings.
    AgencyAdmin,
    /// Kế toán: the agency's fees collected, refunds and reconciliation with the gateways.
    Accountant,
    /// Văn thư: the agency's official documents, sent and received through the exchange hub,
    /// and its registers of them.
    Clerk,
    /// Văn phòng, thư ký: prepares the meetings and opinion ballots of the agency's leadership
    /// (the Government's, a People's Committee's) and follows them up.
    Secretariat,
    /// Vận hành quốc gia: watches every province.
    NationalOperator,
    /// Quản trị hệ thống.
    SystemAdmin,
}

pub const ALL_ROLES: [Role; 10] = [
    Role::Reception,
    Role::Specialist,
    Role::DepartmentHead,
    Role::AgencyLeader,
    Role::AgencyAdmin,
    Role::Accountant,
    Role::Clerk,
    Role::Secretariat,
    Role::NationalOperator,
    Role::SystemAdmin,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reception => "reception",
            Role::Specialist => "specialist",
            Role::DepartmentHead => "department_head",
            Role::AgencyLeader => "agency_leader",
            Role::AgencyAdmin => "agency_admin",
            Role::Accountant => "accountant",
            Role::Clerk => "clerk",
            Role::Secretariat => "secretariat",
            Role::NationalOperator => "national_operator",
            Role::SystemAdmin => "system_admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        ALL_ROLES.into_iter().find(|r| r.as_str() == s)
    }
    /// National roles are held without an agency.
    pub fn is_national(self) -> bool {
        matches!(self, Role::NationalOperator | Role::SystemAdmin)
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Role::Reception, true) => "Tiếp nhận và trả kết quả",
            (Role::Specialist, true) => "Chuyên viên",
            (Role::DepartmentHead, true) => "Trưởng phòng",
            (Role::AgencyLeader, true) => "Lãnh đạo cơ quan",
            (Role::AgencyAdmin, true) => "Quản trị cơ quan",
            (Role::Accountant, true) => "Kế toán",
            (Role::Accountant, false) => "Accountant",
            (Role::Clerk, true) => "Văn thư",
            (Role::Clerk, false) => "Records clerk",
            (Role::Secretariat, true) => "Văn phòng, thư ký",
            (Role::Secretariat, false) => "Secretariat",
            (Role::NationalOperator, true) => "Vận hành quốc gia",
            (Role::SystemAdmin, true) => "Quản trị hệ thống",
            (Role::Reception, false) => "Reception desk",
            (Role::Specialist, false) => "Specialist",
            (Role::DepartmentHead, false) => "Department head",
            (Role::AgencyLeader, false) => "Agency leader",
            (Role::AgencyAdmin, false) => "Agency administrator",
            (Role::NationalOperator, false) => "National operator",
            (Role::SystemAdmin, false) => "System administrator",
        }
    }
}

/// A role held in an agency (none for national roles).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub role: Role,
    pub agency: Option<String>,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    Account(Principal),
}

/// An authenticated account, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Principal {
    pub id: String,
    pub kind: AccountKind,
    pub login: String,
    pub full_name: String,
    /// Identity assurance level (1 self-registered, 2 verified in person).
    pub assurance: u8,
    pub grants: Vec<Grant>,
    /// When authenticated by a bearer token: the scopes it carries.
    pub scopes: Option<Vec<String>>,
    /// For a citizen: the tax codes of the businesses they act for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub represents: Vec<String>,
}

impl Principal {
    /// Whether the token this caller came with (if any) carries the scope `action` needs; a
    /// browser session carries no scopes and is not narrowed. The roles are another question
    /// ([`authorize`]).
    pub fn token_allows(&self, action: Action) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == action.scope()))
    }

    pub fn has(&self, role: Role, agency: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && (role.is_national() || g.agency.as_deref() == agency))
    }
    fn is_system_admin(&self) -> bool {
        self.has(Role::SystemAdmin, None)
    }
    /// Whether this account filed (or may file) a dossier as its applicant: its own, or one
    /// for a business it is or represents.
    pub fn is_applicant(&self, applicant: Option<&str>, on_behalf_of: Option<&str>) -> bool {
        match on_behalf_of {
            Some(tax) => {
                (self.kind == AccountKind::Business && self.login == tax)
                    || (self.kind == AccountKind::Citizen
                        && self.represents.iter().any(|r| r == tax))
            }
            None => applicant == Some(self.id.as_str()),
        }
    }
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read public catalogue data.
    ReadCatalog,
    /// Change the catalogue.
    WriteCatalog,
    /// Read or change one's own account and sessions.
    OwnAccount,
    /// List accounts and their roles.
    ListAccounts,
    /// Grant or revoke a role.
    GrantRole(Role),
    /// Edit the working-day calendar.
    EditCalendar,
    /// Check the audit chain.
    VerifyAudit,
    /// Register and turn off OpenID Connect clients.
    ManageClients,
    /// Read the outbox (messages waiting to be handed over).
    ReadOutbox,
    /// File a dossier, as its applicant (or for a walk-in applicant, at the agency's desk).
    FileDossier,
    /// Read a dossier.
    ReadDossier,
    /// Act on a dossier in a role of its agency.
    HandleDossier(Role),
    /// Refund payments and reconcile an agency's gateway statements.
    ManagePayments,
    /// Read payment figures (an agency's, or every agency's).
    ReadPaymentReports,
    /// Read the one-stop figures and rankings of an agency, of a province (its People's
    /// Committee stands for it) or of the whole country.
    ReadReports,
    /// Change what the reports are made of: the citizen-service index's definition (the
    /// node), the figures an agency enters or submits (that agency).
    WriteReports,
    /// Send, receive and answer an agency's official documents through the exchange hub, and
    /// keep its registers.
    ExchangeDocuments,
    /// Run the exchange hub: the agencies on it, their certificates and revocations.
    ManageExchange,
    /// Take up, answer, moderate, merge and hand on the petitions and field reports routed to
    /// an agency.
    HandleFeedback,
    /// Run feedback on the node: the kinds of report, the areas communes serve, the routes
    /// and the Open311 API keys.
    ManageFeedback,
    /// Take part in the meetings and opinion ballots one is called to: read their documents,
    /// vote. Who takes part is the meeting's and the ballot's own list.
    AttendCabinet,
    /// Prepare an agency's meetings and ballots: members, agendas, documents, attendance,
    /// conclusions; open, remind, close and publish ballots.
    RunCabinet,
    /// Run the federation of nodes: on the national node, approve, suspend and watch the
    /// local nodes; on a local node, watch its sync and replay it from a point.
    ManageFederation,
}

impl Action {
    /// The token scope that covers this action.
    pub fn scope(self) -> &'static str {
        match self {
            Action::ReadCatalog => "catalog:read",
            Action::WriteCatalog => "catalog:write",
            Action::OwnAccount => "profile",
            Action::ListAccounts | Action::GrantRole(_) => "accounts:admin",
            Action::EditCalendar => "calendar:write",
            Action::VerifyAudit => "audit:read",
            Action::ManageClients => "clients:admin",
            Action::ReadOutbox => "outbox:read",
            Action::FileDossier => "dossiers:write",
            Action::ReadDossier => "dossiers:read",
            Action::HandleDossier(_) => "dossiers:handle",
            Action::ManagePayments => "payments:admin",
            Action::ReadPaymentReports => "payments:read",
            Action::ReadReports => "reports:read",
            Action::WriteReports => "reports:write",
            Action::ExchangeDocuments => "documents:exchange",
            Action::ManageExchange => "exchange:admin",
            Action::HandleFeedback => "feedback:handle",
            Action::ManageFeedback => "feedback:admin",
            Action::AttendCabinet => "cabinet",
            Action::RunCabinet => "cabinet:admin",
            Action::ManageFederation => "federation:admin",
        }
    }
}

/// Scopes a token can carry.
pub const SCOPES: &[&str] = &[
    "catalog:read",
    "catalog:write",
    "profile",
    "accounts:admin",
    "calendar:write",
    "audit:read",
    "clients:admin",
    "outbox:read",
    "dossiers:read",
    "dossiers:write",
    "dossiers:handle",
    "payments:read",
    "payments:admin",
    "reports:read",
    "reports:write",
    "documents:exchange",
    "exchange:admin",
    "feedback:handle",
    "feedback:admin",
    "cabinet",
    "cabinet:admin",
    "federation:admin",
];

/// What it is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The node as a whole.
    Node,
    /// Something belonging to an agency.
    Agency(&'a str),
    /// An account.
    Account(&'a str),
    /// A dossier: the agency handling it, its applicant's account, and the business (tax code)
    /// it is filed for.
    Dossier {
        agency: &'a str,
        applicant: Option<&'a str>,
        on_behalf_of: Option<&'a str>,
    },
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not authenticated and it would need to be.
    NeedLogin,
    Deny,
}

/// The one authorization rule book.
pub fn authorize(subject: &Subject, action: Action, resource: &Resource<'_>) -> Decision {
    if action == Action::ReadCatalog {
        return Decision::Allow;
    }
    let Subject::Account(p) = subject else {
        return Decision::NeedLogin;
    };
    if let Some(scopes) = &p.scopes
        && !scopes.iter().any(|s| s == action.scope())
    {
        return Decision::Deny;
    }
    if p.kind == AccountKind::Machine {
        // A machine acts within the scopes it was registered for (checked above), and never
        // on people's accounts.
        return match action {
            Action::OwnAccount
            | Action::GrantRole(_)
            | Action::ListAccounts
            | Action::FileDossier
            | Action::ReadDossier
            | Action::HandleDossier(_)
            | Action::ManagePayments
            | Action::AttendCabinet
            | Action::RunCabinet => Decision::Deny,
            _ if p.scopes.is_some() => Decision::Allow,
            _ => Decision::Deny,
        };
    }
    let allowed = match (action, resource) {
        (Action::ReadCatalog, _) => true,
        (Action::OwnAccount, Resource::Account(id)) => *id == p.id,
        (Action::OwnAccount, _) => false,
        (Action::WriteCatalog, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        (Action::ListAccounts, Resource::Agency(a)) => {
            p.is_system_admin() || p.has(Role::AgencyAdmin, Some(a))
        }
        (Action::ListAccounts, _) => p.is_system_admin(),
        (Action::GrantRole(r), Resource::Agency(a)) => {
            p.is_system_admin() || (!r.is_national() && p.has(Role::AgencyAdmin, Some(a)))
        }
        (Action::GrantRole(_), _) => p.is_system_admin(),
        (Action::EditCalendar, _) => p.is_system_admin(),
        (Action::VerifyAudit, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        (Action::ManageClients | Action::ReadOutbox, _) => p.is_system_admin(),
        (
            Action::FileDossier,
            Resource::Dossier {
                agency,
                applicant,
                on_behalf_of,
            },
        ) => p.is_applicant(*applicant, *on_behalf_of) || p.has(Role::Reception, Some(agency)),
        (
            Action::ReadDossier,
            Resource::Dossier {
                agency,
                applicant,
                on_behalf_of,
            },
        ) => {
            p.is_applicant(*applicant, *on_behalf_of)
                || p.grants
                    .iter()
                    .any(|g| !g.role.is_national() && g.agency.as_deref() == Some(agency))
        }
        (Action::HandleDossier(r), Resource::Dossier { agency, .. }) => {
            !r.is_national() && p.has(r, Some(agency))
        }
        (Action::FileDossier | Action::ReadDossier | Action::HandleDossier(_), _) => false,
        (Action::ManagePayments, Resource::Agency(a)) => {
            p.is_system_admin()
                || p.has(Role::Accountant, Some(a))
                || p.has(Role::AgencyLeader, Some(a))
        }
        (Action::ManagePayments, _) => p.is_system_admin(),
        (Action::ReadPaymentReports, Resource::Agency(a)) => {
            p.is_system_admin()
                || p.has(Role::NationalOperator, None)
                || p.has(Role::Accountant, Some(a))
                || p.has(Role::AgencyLeader, Some(a))
        }
        (Action::ReadPaymentReports, _) => {
            p.is_system_admin() || p.has(Role::NationalOperator, None)
        }
        (Action::ReadReports, Resource::Agency(a)) => {
            p.is_system_admin()
                || p.has(Role::NationalOperator, None)
                || p.has(Role::AgencyLeader, Some(a))
                || p.has(Role::DepartmentHead, Some(a))
                || p.has(Role::AgencyAdmin, Some(a))
        }
        (Action::ReadReports, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        (Action::WriteReports, Resource::Agency(a)) => {
            p.is_system_admin()
                || p.has(Role::NationalOperator, None)
                || p.has(Role::AgencyLeader, Some(a))
                || p.has(Role::AgencyAdmin, Some(a))
        }
        (Action::WriteReports, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        (Action::ExchangeDocuments, Resource::Agency(a)) => {
            p.has(Role::Clerk, Some(a)) || p.has(Role::AgencyLeader, Some(a))
        }
        (Action::ExchangeDocuments, _) => false,
        (Action::ManageExchange, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        (Action::HandleFeedback, Resource::Agency(a)) => [
            Role::Reception,
            Role::Specialist,
            Role::DepartmentHead,
            Role::AgencyLeader,
            Role::AgencyAdmin,
        ]
        .into_iter()
        .any(|r| p.has(r, Some(a))),
        (Action::HandleFeedback, _) => false,
        (Action::ManageFeedback, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
        // Who may read a meeting's papers or vote is the meeting's and the ballot's own list:
        // any official may ask, the list answers.
        (Action::AttendCabinet, _) => p.kind == AccountKind::Official,
        (Action::RunCabinet, Resource::Agency(a)) => p.has(Role::Secretariat, Some(a)),
        (Action::RunCabinet, _) => false,
        (Action::ManageFederation, _) => p.is_system_admin() || p.has(Role::NationalOperator, None),
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn official(grants: &[(Role, Option<&str>)]) -> Subject {
        Subject::Account(Principal {
            id: "u1".into(),
            kind: AccountKind::Official,
            login: "canbo".into(),
            full_name: "Cán bộ".into(),
            assurance: 2,
            grants: grants
                .iter()
                .map(|(r, a)| Grant {
                    role: *r,
                    agency: a.map(str::to_string),
                })
                .collect(),
            scopes: None,
            represents: Vec::new(),
        })
    }

    #[test]
    fn roles_count_only_in_their_agency() {
        let admin_a = official(&[(Role::AgencyAdmin, Some("A"))]);
        assert_eq!(
            authorize(
                &admin_a,
                Action::GrantRole(Role::Reception),
                &Resource::Agency("A")
            ),
            Decision::Allow
        );
        assert_eq!(
            authorize(
                &admin_a,
                Action::GrantRole(Role::Reception),
                &Resource::Agency("B")
            ),
            Decision::Deny
        );
        assert_eq!(
            authorize(
                &admin_a,
                Action::GrantRole(Role::SystemAdmin),
                &Resource::Agency("A")
            ),
            Decision::Deny
        );
        assert_eq!(
            authorize(&admin_a, Action::ListAccounts, &Resource::Agency("A")),
            Decision::Allow
        );
        assert_eq!(
            authorize(&admin_a, Action::ListAccounts, &Resource::Node),
            Decision::Deny
        );
        assert_eq!(
            authorize(&admin_a, Action::EditCalendar, &Resource::Node),
            Decision::Deny
        );
        let sys = official(&[(Role::SystemAdmin, None)]);
        assert_eq!(
            authorize(&sys, Action::EditCalendar, &Resource::Node),
            Decision::Allow
        );
        assert_eq!(
            authorize(&sys, Action::GrantRole(Role::SystemAdmin), &Resource::Node),
            Decision::Allow
        );
    }

    #[test]
    fn anonymous_reads_the_catalogue_only() {
        assert_eq!(
            authorize(&Subject::Anonymous, Action::ReadCatalog, &Resource::Node),
            Decision::Allow
        );
        assert_eq!(
            authorize(
                &Subject::Anonymous,
                Action::OwnAccount,
                &Resource::Account("u1")
            ),
            Decision::NeedLogin
        );
        assert_eq!(
            authorize(&Subject::Anonymous, Action::WriteCatalog, &Resource::Node),
            Decision::NeedLogin
        );
    }

    #[test]
    fn own_account_is_one_s_own_and_tokens_narrow() {
        let me = official(&[(Role::SystemAdmin, None)]);
        assert_eq!(
            authorize(&me, Action::OwnAccount, &Resource::Account("u1")),
            Decision::Allow
        );
        assert_eq!(
            authorize(&me, Action::OwnAccount, &Resource::Account("u2")),
            Decision::Deny
        );
        let Subject::Account(mut p) = me else { return };
        p.scopes = Some(vec!["profile".into()]);
        let token = Subject::Account(p);
        assert_eq!(
            authorize(&token, Action::OwnAccount, &Resource::Account("u1")),
            Decision::Allow
        );
        assert_eq!(
            authorize(&token, Action::EditCalendar, &Resource::Node),
            Decision::Deny
        );
        assert_eq!(
            authorize(&token, Action::ReadCatalog, &Resource::Node),
            Decision::Allow
        );
    }
}

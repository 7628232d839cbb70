// The account every SMTP peer harness accepts (smtp-server, Exim).
export const USERNAME = "mailer@example.com";
export const PASSWORD = "Corr3ct-H0rse-Battery-Staple";

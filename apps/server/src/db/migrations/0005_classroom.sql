CREATE TABLE "platform_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "template_verifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"template_id" uuid NOT NULL,
	"template_version" integer NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"requested_by" uuid,
	"lab_id" uuid,
	"message" text,
	"results" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "template_verifications_status_check" CHECK ("template_verifications"."status" in ('running', 'passed', 'failed', 'error'))
);
--> statement-breakpoint
ALTER TABLE "labs" DROP CONSTRAINT "labs_status_check";--> statement-breakpoint
ALTER TABLE "labs" ADD COLUMN "queued_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "template_verifications" ADD CONSTRAINT "template_verifications_template_id_lab_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."lab_templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "template_verifications" ADD CONSTRAINT "template_verifications_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "template_verifications_template_idx" ON "template_verifications" USING btree ("template_id","created_at");--> statement-breakpoint
ALTER TABLE "labs" ADD CONSTRAINT "labs_status_check" CHECK ("labs"."status" in ('queued', 'provisioning', 'running', 'starting', 'stopping', 'stopped', 'resetting', 'deleting', 'deleted', 'error'));
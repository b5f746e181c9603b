CREATE TABLE "template_states" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"template_id" uuid NOT NULL,
	"template_version" integer NOT NULL,
	"vm_name" text NOT NULL,
	"key" text NOT NULL,
	"image" text NOT NULL,
	"hypervisor_version" text NOT NULL,
	"machine" text NOT NULL,
	"state_name" text NOT NULL,
	"status" text DEFAULT 'preparing' NOT NULL,
	"error" text,
	"size_bytes" bigint,
	"prepare_ms" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "template_states_status_check" CHECK ("template_states"."status" in ('preparing', 'ready', 'failed', 'stale'))
);
--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "saved_state" text;--> statement-breakpoint
ALTER TABLE "template_states" ADD CONSTRAINT "template_states_template_id_lab_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."lab_templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "template_states_live_key" ON "template_states" USING btree ("key") WHERE "template_states"."status" in ('preparing', 'ready');--> statement-breakpoint
CREATE INDEX "template_states_template_idx" ON "template_states" USING btree ("template_id","template_version");
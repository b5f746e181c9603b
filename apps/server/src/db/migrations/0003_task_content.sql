CREATE TABLE "lab_secrets" (
	"lab_id" uuid NOT NULL,
	"name" text NOT NULL,
	"digest" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lab_secrets_lab_id_name_pk" PRIMARY KEY("lab_id","name")
);
--> statement-breakpoint
CREATE TABLE "task_attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"lab_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"user_id" uuid,
	"kind" text NOT NULL,
	"answer" text,
	"correct" boolean NOT NULL,
	"shared_from_lab_id" uuid,
	"output" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_attempts_kind_check" CHECK ("task_attempts"."kind" in ('answer', 'check'))
);
--> statement-breakpoint
CREATE TABLE "task_reveals" (
	"lab_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"kind" text NOT NULL,
	"hint_id" text DEFAULT '' NOT NULL,
	"user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_reveals_lab_id_task_id_kind_hint_id_pk" PRIMARY KEY("lab_id","task_id","kind","hint_id"),
	CONSTRAINT "task_reveals_kind_check" CHECK ("task_reveals"."kind" in ('hint', 'solution'))
);
--> statement-breakpoint
ALTER TABLE "lab_secrets" ADD CONSTRAINT "lab_secrets_lab_id_labs_id_fk" FOREIGN KEY ("lab_id") REFERENCES "public"."labs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD CONSTRAINT "task_attempts_lab_id_labs_id_fk" FOREIGN KEY ("lab_id") REFERENCES "public"."labs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD CONSTRAINT "task_attempts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_reveals" ADD CONSTRAINT "task_reveals_lab_id_labs_id_fk" FOREIGN KEY ("lab_id") REFERENCES "public"."labs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_reveals" ADD CONSTRAINT "task_reveals_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "lab_secrets_digest_idx" ON "lab_secrets" USING btree ("digest");--> statement-breakpoint
CREATE INDEX "task_attempts_lab_idx" ON "task_attempts" USING btree ("lab_id","task_id");